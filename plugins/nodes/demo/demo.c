/* demo.c - the demo project's node library: Kedro's spaceflights, in C.
 *
 * Data processing cleans the raw companies and shuttles tables and joins
 * them with the reviews into one model input table; data science splits it
 * (test rows: shuttle_id % 5 == 0), fits ordinary least squares with an
 * intercept, and scores it on the test rows.  Tables arrive as crun_table
 * values (from the csv and sqlite datasets); the model and the metrics are
 * JSON.  Every function reads only its call and keeps no state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crun/crun.h"
#include "linalg.h"
#include "tables.h"

/* "t"/"f" (and true/false, 1/0) as 1/0; anything else is missing. */
static int parse_flag(const char *s, int64_t *out)
{
    if (!strcmp(s, "t") || !strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "1"))
        return *out = 1, 0;
    if (!strcmp(s, "f") || !strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "0"))
        return *out = 0, 0;
    return -1;
}

/* "100%" -> 1.0 */
static int parse_percentage(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || strcmp(end, "%") != 0)
        return -1;
    *out = v / 100.0;
    return 0;
}

/* "$1,325.0" -> 1325.0 */
static int parse_money(const char *s, double *out)
{
    char digits[64];
    size_t n = 0;
    for (const char *p = s; *p && n < sizeof(digits) - 1; p++)
        if (*p != '$' && *p != ',')
            digits[n++] = *p;
    digits[n] = '\0';
    char *end;
    *out = strtod(digits, &end);
    return end == digits || *end ? -1 : 0;
}

typedef enum { CONV_FLAG, CONV_PERCENT, CONV_MONEY } conversion;

/* Copy a table, converting the named string columns. */
static int convert_columns(crun_call *call, const char *in, const char *out,
                           const char *const *names, const conversion *convs, size_t n)
{
    const crun_table *src = crun_value_table(crun_call_input(call, in));
    if (!src)
        return crun_call_fail(call, "input '%s' must be a table", in);
    size_t rows = crun_table_rows(src);
    crun_table *dst = crun_table_new(rows);
    if (!dst || crun_table_set_rows(dst, rows) != 0)
        return crun_table_free(dst), crun_call_fail(call, "out of memory");
    for (size_t c = 0; c < crun_table_columns(src); c++) {
        const char *name = crun_table_column_name(src, c);
        size_t k = 0;
        while (k < n && strcmp(names[k], name) != 0)
            k++;
        if (k == n) {
            if (table_copy_column(dst, src, c) < 0)
                return crun_table_free(dst), crun_call_fail(call, "out of memory");
            continue;
        }
        if (crun_table_column_type(src, c) != CRUN_COLUMN_STRING)
            return crun_table_free(dst),
                   crun_call_fail(call, "column '%s' of '%s' should hold text, e.g. \"t\" or "
                                  "\"$1,325.0\"", name, in);
        int col = crun_table_add_column(dst, name, convs[k] == CONV_FLAG ? CRUN_COLUMN_INT64
                                                                          : CRUN_COLUMN_DOUBLE);
        for (size_t r = 0; col >= 0 && r < rows; r++) {
            if (crun_table_is_missing(src, c, r))
                continue;
            const char *s = crun_table_string(src, c, r);
            int64_t flag;
            double d;
            if (convs[k] == CONV_FLAG && parse_flag(s, &flag) == 0)
                crun_table_set_int64(dst, (size_t)col, r, flag);
            else if (convs[k] == CONV_PERCENT && parse_percentage(s, &d) == 0)
                crun_table_set_double(dst, (size_t)col, r, d);
            else if (convs[k] == CONV_MONEY && parse_money(s, &d) == 0)
                crun_table_set_double(dst, (size_t)col, r, d);
            else
                return crun_table_free(dst),
                       crun_call_fail(call, "column '%s', row %zu: cannot read \"%s\"", name,
                                      r + 1, s);
        }
    }
    return crun_call_set_output(call, out, crun_value_table_new(dst));
}

static int preprocess_companies(crun_call *call)
{
    static const char *const names[] = {"iata_approved", "company_rating"};
    static const conversion convs[] = {CONV_FLAG, CONV_PERCENT};
    return convert_columns(call, "companies", "preprocessed_companies", names, convs, 2);
}

static int preprocess_shuttles(crun_call *call)
{
    static const char *const names[] = {"d_check_complete", "moon_clearance_complete", "price"};
    static const conversion convs[] = {CONV_FLAG, CONV_FLAG, CONV_MONEY};
    return convert_columns(call, "shuttles", "preprocessed_shuttles", names, convs, 3);
}

static int create_model_input_table(crun_call *call)
{
    const crun_table *shuttles = crun_value_table(crun_call_input(call, "shuttles"));
    const crun_table *companies = crun_value_table(crun_call_input(call, "companies"));
    const crun_table *reviews = crun_value_table(crun_call_input(call, "reviews"));
    if (!shuttles || !companies || !reviews)
        return crun_call_fail(call, "shuttles, companies and reviews must be tables");
    char why[256] = "";
    crun_table *rated = table_join(shuttles, "id", reviews, "shuttle_id", "id", why, sizeof(why));
    if (!rated)
        return crun_call_fail(call, "joining shuttles with reviews: %s", why);
    crun_table *joined = table_join(rated, "company_id", companies, "id", NULL, why, sizeof(why));
    crun_table_free(rated);
    if (!joined)
        return crun_call_fail(call, "joining with companies: %s", why);
    crun_table *clean = table_drop_missing(joined);
    crun_table_free(joined);
    if (!clean)
        return crun_call_fail(call, "out of memory");
    crun_call_log(call, CRUN_LOG_INFO, "model input table: %zu rows, %zu columns",
                  crun_table_rows(clean), crun_table_columns(clean));
    return crun_call_set_output(call, "model_input_table", crun_value_table_new(clean));
}

static int feature_names(crun_call *call, json_t *options, const char ***out, size_t *n)
{
    json_t *features = json_object_get(options, "features");
    if (!json_is_array(features) || json_array_size(features) == 0)
        return crun_call_fail(call, "params:model_options.features must be a list of columns");
    *n = json_array_size(features);
    *out = calloc(*n, sizeof(char *));
    if (!*out)
        return crun_call_fail(call, "out of memory");
    for (size_t i = 0; i < *n; i++)
        if (!((*out)[i] = json_string_value(json_array_get(features, i)))) {
            free(*out);
            return crun_call_fail(call, "model_options.features[%zu] must be a column name", i);
        }
    return 0;
}

/* test_size (a share, default 0.2) and random_state (an id offset, default
 * 0): which rows are test rows, as Kedro's train_test_split is told. */
static int split_options(crun_call *call, json_t *options, int64_t *per_10000, int64_t *offset)
{
    json_t *size = json_object_get(options, "test_size");
    json_t *state = json_object_get(options, "random_state");
    double share = size ? json_number_value(size) : 0.2;
    if ((size && !json_is_number(size)) || share <= 0 || share >= 1)
        return crun_call_fail(call, "params:model_options.test_size must be a number between "
                              "0 and 1");
    if (state && !json_is_integer(state))
        return crun_call_fail(call, "params:model_options.random_state must be an integer");
    *per_10000 = (int64_t)(share * 10000 + 0.5);
    *offset = state ? (int64_t)json_integer_value(state) : 0;
    return 0;
}

static int split_data(crun_call *call)
{
    const crun_table *data = crun_value_table(crun_call_input(call, "data"));
    json_t *options = crun_value_json(crun_call_input(call, "parameters"));
    if (!data || !json_is_object(options))
        return crun_call_fail(call, "split_data needs a table and params:model_options");
    int64_t per_10000 = 2000, offset = 0;
    int rc = split_options(call, options, &per_10000, &offset);
    if (rc)
        return rc;
    const char **features = NULL;
    size_t nf = 0;
    rc = feature_names(call, options, &features, &nf);
    if (rc)
        return rc;
    const char *target = "price";
    int id = crun_table_column_index(data, "shuttle_id");
    crun_table *parts[4] = {NULL};
    char why[256] = "";
    if (id < 0)
        rc = crun_call_fail(call, "the model input table has no shuttle_id column");
    else if (table_split_rows(data, (size_t)id, per_10000, offset, features, nf, target, parts, why, sizeof(why)))
        rc = crun_call_fail(call, "%s", why);
    free(features);
    if (rc)
        return rc;
    static const char *const outs[] = {"X_train", "X_test", "y_train", "y_test"};
    for (size_t i = 0; i < 4; i++)
        if ((rc = crun_call_set_output(call, outs[i], crun_value_table_new(parts[i]))) != 0) {
            for (size_t k = i + 1; k < 4; k++)
                crun_table_free(parts[k]);
            return rc;
        }
    return 0;
}

static int train_model(crun_call *call)
{
    const crun_table *x = crun_value_table(crun_call_input(call, "X_train"));
    const crun_table *y = crun_value_table(crun_call_input(call, "y_train"));
    if (!x || !y || crun_table_columns(y) != 1 || crun_table_rows(x) != crun_table_rows(y))
        return crun_call_fail(call, "train_model needs X_train and a one-column y_train of "
                              "the same length");
    size_t n = crun_table_rows(x), p = crun_table_columns(x);
    double *coef = calloc(p + 1, sizeof(double));
    if (!coef)
        return crun_call_fail(call, "out of memory");
    size_t rank = 0;
    if (ols_fit(x, y, coef, &rank) != 0) {
        free(coef);
        return crun_call_fail(call, "cannot fit the model on %zu rows", n);
    }
    json_t *model = json_object(), *c = json_object();
    json_object_set_new(model, "intercept", json_real(coef[p]));
    for (size_t j = 0; j < p; j++)
        json_object_set_new(c, crun_table_column_name(x, j), json_real(coef[j]));
    json_object_set_new(model, "coefficients", c);
    json_object_set_new(model, "rank", json_integer((json_int_t)rank));
    json_object_set_new(model, "rows", json_integer((json_int_t)n));
    free(coef);
    return crun_call_set_output(call, "regressor", crun_value_json_new(model));
}

static int evaluate_model(crun_call *call)
{
    json_t *model = crun_value_json(crun_call_input(call, "regressor"));
    const crun_table *x = crun_value_table(crun_call_input(call, "X_test"));
    const crun_table *y = crun_value_table(crun_call_input(call, "y_test"));
    if (!json_is_object(model) || !x || !y || crun_table_rows(x) != crun_table_rows(y))
        return crun_call_fail(call, "evaluate_model needs the regressor, X_test and y_test");
    size_t n = crun_table_rows(x), p = crun_table_columns(x);
    double *pred = calloc(n + 1, sizeof(double));
    if (!pred)
        return crun_call_fail(call, "out of memory");
    json_t *coefs = json_object_get(model, "coefficients");
    double intercept = json_number_value(json_object_get(model, "intercept"));
    for (size_t r = 0; r < n; r++) {
        pred[r] = intercept;
        for (size_t j = 0; j < p; j++)
            pred[r] += json_number_value(json_object_get(coefs, crun_table_column_name(x, j))) *
                       crun_table_double(x, j, r);
    }
    metrics m;
    regression_metrics(y, pred, n, &m);
    free(pred);
    crun_call_log(call, CRUN_LOG_INFO, "Model has a coefficient R^2 of %.3f on test data.", m.r2);
    json_t *out = json_pack("{s:f, s:f, s:f}", "r2_score", m.r2, "mae", m.mae, "max_error",
                            m.max_error);
    return crun_call_set_output(call, "metrics", crun_value_json_new(out));
}

static const crun_node_def demo_nodes[] = {
    {"preprocess_companies", preprocess_companies,
     "companies table: iata_approved t/f -> 1/0, company_rating \"100%\" -> 1.0"},
    {"preprocess_shuttles", preprocess_shuttles,
     "shuttles table: d_check_complete, moon_clearance_complete -> 1/0, price \"$1,325.0\" -> 1325.0"},
    {"create_model_input_table", create_model_input_table,
     "shuttles x reviews (id = shuttle_id) x companies (company_id = id), rows with a missing value dropped"},
    {"split_data", split_data,
     "X/y train and test tables: a share test_size of the shuttle ids (shifted by "
     "random_state; 0.2: ids % 5 == 0) are test rows; features from params"},
    {"train_model", train_model, "ordinary least squares with intercept (handles rank deficiency)"},
    {"evaluate_model", evaluate_model, "r2_score, mae and max_error of the model on the test rows"},
};

static const crun_nodes_type demo_type = {
    .size = sizeof(crun_nodes_type),
    .nodes = demo_nodes,
    .n_nodes = sizeof(demo_nodes) / sizeof(demo_nodes[0]),
};

static const crun_plugin demo_plugin = {
    CRUN_PLUGIN_HEAD,
    .kind = CRUN_PLUGIN_NODES,
    .name = "demo",
    .version = "1.0.0",
    .description = "Kedro's spaceflights tutorial nodes, in C",
    .table = &demo_type,
};

CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)
{
    return &demo_plugin;
}
