/* csv_options.c - load_args and save_args of CSV datasets (see csv_parse.h).
 *
 * The csv plugin finds them at the top of its options, the partitioned
 * plugin inside its `dataset` map; both hand the JSON object here with the
 * context to put in front of a complaint, so messages read the same.
 * Unknown keys are refused with the list of known ones: a typo must not
 * silently read the file with defaults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_parse.h"

static const char *const read_keys[] = {"delimiter", "header", "columns", "na_values", NULL};
static const char *const write_keys[] = {"delimiter", "header", NULL};

void csv_read_options_init(csv_read_options *opts)
{
    *opts = (csv_read_options){.delimiter = ',', .header = true};
}

void csv_write_options_init(csv_write_options *opts)
{
    *opts = (csv_write_options){.delimiter = ',', .header = true};
}

void csv_read_options_clear(csv_read_options *opts)
{
    for (size_t i = 0; i < opts->ncolumns; i++)
        free(opts->columns[i].name);
    for (size_t i = 0; i < opts->nna; i++)
        free(opts->na_values[i]);
    free(opts->columns);
    free(opts->na_values);
    csv_read_options_init(opts);
}

static int option_error(crun_error *err, const char *context, const char *key, const char *sub,
                        const char *what)
{
    return crun_error_set(err, CRUN_ECONFIG, "%s: option '%s.%s': %s", context, key, sub, what);
}

static int check_keys(json_t *args, const char *const *known, const char *context,
                      const char *key, crun_error *err)
{
    const char *name;
    json_t *value;
    json_object_foreach(args, name, value) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], name) != 0)
            i++;
        if (known[i])
            continue;
        char list[128] = "";
        for (i = 0; known[i]; i++) {
            strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
            strncat(list, known[i], sizeof(list) - strlen(list) - 1);
        }
        return crun_error_set(err, CRUN_ECONFIG, "%s: option '%s.%s': unknown (known: %s)",
                              context, key, name, list);
    }
    return 0;
}

static int parse_delimiter(json_t *v, const char *context, const char *key, char *out,
                           crun_error *err)
{
    if (!v)
        return 0;
    const char *s = json_string_value(v);
    /* A quote or a line break cannot separate fields: libcsv gives them
     * their own meaning. */
    if (!s || strlen(s) != 1 || strchr("\"\r\n", s[0]))
        return option_error(err, context, key, "delimiter",
                            "expected one character other than a quote or line break");
    *out = s[0];
    return 0;
}

static int parse_header(json_t *v, const char *context, const char *key, bool *out,
                        crun_error *err)
{
    if (!v)
        return 0;
    const char *text = json_string_value(v);
    /* A value that went through text (an override, an IR) reads as well. */
    if (text && (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)) {
        *out = strcmp(text, "true") == 0;
        return 0;
    }
    if (!json_is_boolean(v))
        return option_error(err, context, key, "header", "expected true or false");
    *out = json_is_true(v);
    return 0;
}

static const struct {
    const char *name;
    crun_column_type type;
} type_names[] = {
    {"int64", CRUN_COLUMN_INT64},   {"int", CRUN_COLUMN_INT64},     {"integer", CRUN_COLUMN_INT64},
    {"double", CRUN_COLUMN_DOUBLE}, {"float", CRUN_COLUMN_DOUBLE},  {"float64", CRUN_COLUMN_DOUBLE},
    {"string", CRUN_COLUMN_STRING}, {"str", CRUN_COLUMN_STRING},
};

static int column_type_of(const char *s, crun_column_type *out)
{
    for (size_t i = 0; s && i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (strcmp(s, type_names[i].name) == 0) {
            *out = type_names[i].type;
            return 0;
        }
    }
    return -1;
}

static int parse_columns(json_t *v, const char *context, const char *key,
                         csv_read_options *opts, crun_error *err)
{
    if (!v)
        return 0;
    if (!json_is_object(v))
        return option_error(err, context, key, "columns",
                            "expected a map of column name to int64, double or string");
    opts->columns = calloc(json_object_size(v) + 1, sizeof(*opts->columns));
    if (!opts->columns)
        return crun_error_set(err, CRUN_ENOMEM, "%s: out of memory", context);
    const char *name;
    json_t *type;
    json_object_foreach(v, name, type) {
        csv_column_spec *spec = &opts->columns[opts->ncolumns];
        if (column_type_of(json_string_value(type), &spec->type) != 0)
            return crun_error_set(err, CRUN_ECONFIG,
                                  "%s: option '%s.columns.%s': expected int64, double or string",
                                  context, key, name);
        if (!(spec->name = strdup(name)))
            return crun_error_set(err, CRUN_ENOMEM, "%s: out of memory", context);
        opts->ncolumns++;
    }
    return 0;
}

static int parse_na_values(json_t *v, const char *context, const char *key,
                           csv_read_options *opts, crun_error *err)
{
    if (!v)
        return 0;
    json_t *one = json_is_string(v) ? v : NULL;
    size_t n = one ? 1 : json_array_size(v);
    if (!one && !json_is_array(v))
        return option_error(err, context, key, "na_values", "expected a list of strings");
    opts->na_values = calloc(n + 1, sizeof(char *));
    if (!opts->na_values)
        return crun_error_set(err, CRUN_ENOMEM, "%s: out of memory", context);
    for (size_t i = 0; i < n; i++) {
        json_t *item = one ? one : json_array_get(v, i);
        char number[32];
        const char *s = json_string_value(item);
        /* YAML reads na_values: [-999] as a number: its text is what to match. */
        if (json_is_integer(item)) {
            snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT, json_integer_value(item));
            s = number;
        }
        if (!s)
            return option_error(err, context, key, "na_values",
                                "expected a list of strings (quote other values)");
        /* Empty cells are missing anyway; keeping "" out of the list keeps
         * the per-cell check free in the usual case. */
        if (!*s)
            continue;
        if (!(opts->na_values[opts->nna] = strdup(s)))
            return crun_error_set(err, CRUN_ENOMEM, "%s: out of memory", context);
        opts->nna++;
    }
    return 0;
}

int csv_read_options_parse(json_t *args, const char *context, const char *key,
                           csv_read_options *opts, crun_error *err)
{
    if (!args || json_is_null(args))
        return 0;
    if (!json_is_object(args))
        return crun_error_set(err, CRUN_ECONFIG, "%s: option '%s': expected a map", context, key);
    int rc = check_keys(args, read_keys, context, key, err);
    if (rc == 0)
        rc = parse_delimiter(json_object_get(args, "delimiter"), context, key, &opts->delimiter,
                             err);
    if (rc == 0)
        rc = parse_header(json_object_get(args, "header"), context, key, &opts->header, err);
    if (rc == 0)
        rc = parse_columns(json_object_get(args, "columns"), context, key, opts, err);
    if (rc == 0)
        rc = parse_na_values(json_object_get(args, "na_values"), context, key, opts, err);
    return rc;
}

int csv_write_options_parse(json_t *args, const char *context, const char *key,
                            csv_write_options *opts, crun_error *err)
{
    if (!args || json_is_null(args))
        return 0;
    if (!json_is_object(args))
        return crun_error_set(err, CRUN_ECONFIG, "%s: option '%s': expected a map", context, key);
    int rc = check_keys(args, write_keys, context, key, err);
    if (rc == 0)
        rc = parse_delimiter(json_object_get(args, "delimiter"), context, key, &opts->delimiter,
                             err);
    if (rc == 0)
        rc = parse_header(json_object_get(args, "header"), context, key, &opts->header, err);
    return rc;
}
