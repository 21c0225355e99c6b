/* results.c - a sweep's results table: one row per trial.
 *
 * A row is the trial's run id, its parameters, its status, its wall time
 * and the values of the collected datasets (a JSON object's numbers become
 * columns "<dataset>.<key>").  The table is printed at the end and written
 * as results.json and results.csv under .crun/sweeps/<id>/ after every
 * trial, by a temporary file and a rename, so that an interrupted sweep
 * leaves a whole table that --resume reads back: rows whose status is ok
 * are kept, the others run again.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>

#include "sweep.h"

static const char *const status_names[] = {"pending", "ok", "failed", "interrupted", "skipped"};

const char *sweep_status_name(sweep_status s)
{
    return status_names[s];
}

static sweep_status status_from_name(const char *s)
{
    for (size_t i = 0; s && i < sizeof(status_names) / sizeof(status_names[0]); i++)
        if (strcmp(s, status_names[i]) == 0)
            return (sweep_status)i;
    return TRIAL_PENDING;
}

void sweep_collect_value(json_t *collected, const char *dataset, const crun_value *value)
{
    json_t *j = crun_value_json(value);
    size_t len = 0;
    const void *bytes = crun_value_bytes(value, &len);
    /* a command's output kept in memory is bytes: read JSON text as JSON */
    json_t *parsed = !j && bytes ? json_loadb(bytes, len, JSON_DECODE_ANY, NULL) : NULL;
    if (parsed) {
        j = parsed;
        bytes = NULL;
    }
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) {
            if (!json_is_number(v) && !json_is_string(v) && !json_is_boolean(v))
                continue;
            char col[512];
            snprintf(col, sizeof(col), "%s.%s", dataset, key);
            json_object_set_new(collected, col, json_deep_copy(v));
        }
    } else if (json_is_number(j) || json_is_string(j) || json_is_boolean(j)) {
        json_object_set_new(collected, dataset, json_deep_copy(j));
    } else if (bytes && len < 4096 && !memchr(bytes, '\0', len)) {
        char *text = strndup(bytes, len);
        size_t n = text ? strlen(text) : 0;
        while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
            text[--n] = '\0';
        if (text)
            json_object_set_new(collected, dataset, json_string(text));
        free(text);
    }
    json_decref(parsed);
}

/* The collected columns of all rows, in first-seen order (a new array). */
static json_t *collected_columns(const sweep_table *t)
{
    json_t *cols = json_array();
    for (size_t r = 0; r < t->n; r++) {
        const char *key;
        json_t *v;
        json_object_foreach(t->rows[r].collected, key, v) {
            (void)v;
            bool seen = false;
            for (size_t c = 0; c < json_array_size(cols) && !seen; c++)
                seen = strcmp(json_string_value(json_array_get(cols, c)), key) == 0;
            if (!seen)
                json_array_append_new(cols, json_string(key));
        }
    }
    return cols;
}

json_t *sweep_table_json(const sweep_table *t)
{
    json_t *rows = json_array();
    for (size_t r = 0; rows && r < t->n; r++) {
        const sweep_row *row = &t->rows[r];
        json_t *o = json_pack("{s:I, s:s, s:O, s:s, s:f, s:o}", "trial", (json_int_t)r,
                              "run_id", row->run_id, "params", row->params, "status",
                              sweep_status_name(row->status), "seconds", row->seconds,
                              "collected", row->collected ? json_incref(row->collected)
                                                          : json_object());
        if (o && row->error)
            json_object_set_new(o, "error", json_string(row->error));
        json_array_append_new(rows, o);
    }
    return json_pack("{s:s, s:s, s:O, s:o}", "sweep_id", t->sweep_id, "runner",
                     t->runner ? t->runner : "", "params", t->columns, "trials", rows);
}

/* A cell's text: strings as they are, other values as JSON, missing as "". */
static char *cell_text(json_t *v)
{
    if (!v)
        return strdup("");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_real(v)) {
        char buf[40];
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
        /* the shortest text that reads back as the same double */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, json_real_value(v));
            if (strtod(buf, NULL) == json_real_value(v))
                break;
        }
        return strdup(buf);
    }
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Append one CSV field (quoted by libcsv when it needs quoting). */
static int put_field(FILE *f, const char *s, bool first)
{
    if (!first)
        fputc(',', f);
    if (!strpbrk(s, ",\"\r\n") && s[0] != ' ')
        return fputs(s, f) < 0 ? -1 : 0;
    size_t len = strlen(s), size = 2 * len + 3;
    char *q = malloc(size);
    if (!q)
        return -1;
    size_t n = csv_write(q, size, s, len);
    fwrite(q, 1, n, f);
    free(q);
    return 0;
}

static void csv_row(FILE *f, const sweep_table *t, size_t r, json_t *ccols)
{
    const sweep_row *row = &t->rows[r];
    char num[64];
    snprintf(num, sizeof(num), "%zu", r);
    put_field(f, num, true);
    put_field(f, row->run_id, false);
    for (size_t c = 0; c < json_array_size(t->columns); c++) {
        char *s = cell_text(json_object_get(row->params,
                                            json_string_value(json_array_get(t->columns, c))));
        put_field(f, s ? s : "", false);
        free(s);
    }
    put_field(f, sweep_status_name(row->status), false);
    snprintf(num, sizeof(num), "%.3f", row->seconds);
    put_field(f, num, false);
    for (size_t c = 0; c < json_array_size(ccols); c++) {
        char *s = cell_text(json_object_get(row->collected,
                                            json_string_value(json_array_get(ccols, c))));
        put_field(f, s ? s : "", false);
        free(s);
    }
    fputc('\n', f);
}

char *sweep_table_csv(const sweep_table *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    json_t *ccols = collected_columns(t);
    put_field(f, "trial", true);
    put_field(f, "run_id", false);
    for (size_t c = 0; c < json_array_size(t->columns); c++)
        put_field(f, json_string_value(json_array_get(t->columns, c)), false);
    put_field(f, "status", false);
    put_field(f, "seconds", false);
    for (size_t c = 0; c < json_array_size(ccols); c++)
        put_field(f, json_string_value(json_array_get(ccols, c)), false);
    fputc('\n', f);
    for (size_t r = 0; r < t->n; r++)
        csv_row(f, t, r, ccols);
    json_decref(ccols);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The printed table: the CSV's cells, padded to columns. */
void sweep_table_print(const sweep_table *t, FILE *out)
{
    char *csv_text = sweep_table_csv(t);
    if (!csv_text)
        return;
    /* cells never hold newlines in practice; split plainly for widths */
    size_t widths[64] = {0};
    for (int pass = 0; pass < 2; pass++) {
        char *save = NULL, *copy = strdup(csv_text);
        for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
             line = strtok_r(NULL, "\n", &save)) {
            size_t col = 0;
            for (char *p = line; col < 64; col++) {
                size_t n = strcspn(p, ",");
                if (pass == 0 && n > widths[col])
                    widths[col] = n;
                if (pass == 1)
                    fprintf(out, "%s%-*.*s", col ? "  " : "", (int)widths[col], (int)n, p);
                if (!p[n])
                    break;
                p += n + 1;
            }
            if (pass == 1)
                fputc('\n', out);
        }
        free(copy);
    }
    free(csv_text);
}

/* Write text to dir/name through a temporary file and a rename. */
static int write_file(const char *dir, const char *name, const char *text, bool durable,
                      crun_error *err)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (durable)
        return crun_file_write_atomic(path, text, strlen(text), err);
    int rc = crun_mkdir_parents(path, err);
    if (rc)
        return rc;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return crun_error_set(err, CRUN_EIO, "%s: cannot write", tmp);
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return crun_error_set(err, CRUN_EIO, "%s: cannot write", path);
    }
    return 0;
}

int sweep_table_write(const sweep_table *t, const char *dir, bool durable, crun_error *err)
{
    json_t *j = sweep_table_json(t);
    char *json_text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    char *csv_text = sweep_table_csv(t);
    int rc = 0;
    if (!json_text || !csv_text)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    char *with_nl = NULL;
    if (!rc && asprintf(&with_nl, "%s\n", json_text) < 0)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc)
        rc = write_file(dir, "results.json", with_nl, durable, err);
    if (!rc)
        rc = write_file(dir, "results.csv", csv_text, durable, err);
    free(with_nl);
    free(json_text);
    free(csv_text);
    return rc;
}

int sweep_table_resume(sweep_table *t, const char *dir, crun_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/results.json", dir);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j)
        return crun_error_set(err, CRUN_EUSAGE, "--resume %s: no sweep to resume (%s: %s)",
                              t->sweep_id, path, jerr.text);
    json_t *rows = json_object_get(j, "trials");
    int rc = 0;
    if (json_array_size(rows) != t->n)
        rc = crun_error_set(err, CRUN_EUSAGE, "--resume %s: the sweep had %zu trials, these "
                            "options make %zu", t->sweep_id, json_array_size(rows), t->n);
    for (size_t r = 0; !rc && r < t->n; r++) {
        json_t *old = json_array_get(rows, r);
        if (!json_equal(json_object_get(old, "params"), t->rows[r].params)) {
            rc = crun_error_set(err, CRUN_EUSAGE, "--resume %s: trial %zu had other parameters "
                                "than these options give", t->sweep_id, r);
            break;
        }
        if (status_from_name(json_string_value(json_object_get(old, "status"))) != TRIAL_OK)
            continue;
        sweep_row *row = &t->rows[r];
        row->status = TRIAL_OK;
        row->seconds = json_number_value(json_object_get(old, "seconds"));
        json_t *c = json_object_get(old, "collected");
        row->collected = json_is_object(c) ? json_incref(c) : json_object();
    }
    json_decref(j);
    return rc;
}
