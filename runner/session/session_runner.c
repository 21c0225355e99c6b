/* session_runner.c - which runner a run gets, and its instance.
 *
 * The runner a run asks for (a runner.yml name, a plugin name or a .so
 * path; none: runner.yml's default, else sequential) is looked up in
 * runner.yml, its options are the entry's keys with --runner-opt on top,
 * and its plugin makes the instance.  Before that, the runners it wraps
 * (`runner:` keys, followed through runner.yml) are resolved, unknown names
 * and cycles refused at the `runner:` line, and each runner's check() is
 * called.  Runners flagged CRUN_RUNNER_SHARED get one instance per session
 * and options, kept by the session and found without a lock by the runs
 * after the first; others get one per run.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/options.h"
#include "session/session.h"
#include "core/suggest.h"

static const char *const runner_file_keys[] = {"default", "runners", NULL};

typedef struct runner_choice {
    const char *name;
    const char *type;
    const conf_node *entry; /* runner.yml entry, or NULL */
    char where[512];
} runner_choice;

/* Names under 'runners' for suggestions. */
static size_t runner_names(crun_session *s, const char **names, size_t max)
{
    const conf_node *runners = s->ir->runner ? conf_get(s->ir->runner, "runners") : NULL;
    size_t n = 0;
    for (size_t i = 0; runners && runners->kind == CONF_MAP && i < runners->n && n < max; i++)
        names[n++] = runners->items[2 * i]->str;
    return n;
}

static int choose_runner(crun_session *s, const char *asked, runner_choice *c, crun_error *err)
{
    const conf_node *rc_root = s->ir->runner;
    int rc = rc_root ? conf_check_keys(rc_root, runner_file_keys, "runner.yml", err) : 0;
    if (rc)
        return rc;
    const conf_node *runners = rc_root ? conf_get(rc_root, "runners") : NULL;
    const conf_node *def = rc_root ? conf_get(rc_root, "default") : NULL;
    if (runners && runners->kind != CONF_MAP)
        return conf_error(err, runners, "'runners' must map names to {type: ...}, got %s",
                          conf_kind_name(runners));
    if (def && def->kind != CONF_SCALAR)
        return conf_error(err, def, "'default' must name a runner");
    c->name = asked ? asked : def ? def->str : "sequential";
    c->type = c->name;
    c->entry = conf_get(runners, c->name);
    snprintf(c->where, sizeof(c->where), "--runner");
    if (!asked && def)
        conf_where(def, c->where, sizeof(c->where));
    if (!c->entry) {
        if (!asked && def && runners && !strchr(c->name, '/')) {
            /* a default that is neither a key nor (below) a plugin gets its position */
            const crun_plugin *plug;
            crun_error e2 = CRUN_ERROR_INIT;
            int r2 = plugin_load(&s->plugins, CRUN_PLUGIN_RUNNER, c->name, &plug, &e2);
            crun_error_clear(&e2);
            const char *names[128];
            const char *best = r2 ? suggest_closest(c->name, names, runner_names(s, names, 128))
                                  : NULL;
            if (r2)
                return conf_error(err, def, "default runner '%s' is not defined under "
                                  "'runners'%s%s%s", c->name, best ? " (did you mean '" : "",
                                  best ? best : "", best ? "'?)" : "");
        }
        return 0;
    }
    if (c->entry->kind != CONF_MAP)
        return conf_error(err, c->entry, "runner '%s': expected a map with a 'type'", c->name);
    const conf_node *type = conf_get(c->entry, "type");
    if (!type || type->kind != CONF_SCALAR || !type->str[0])
        return conf_error(err, type ? type : c->entry, "runner '%s': missing 'type' (sequential, "
                          "parallel, service, or a path to a .so)", c->name);
    c->type = type->str;
    conf_where(type, c->where, sizeof(c->where));
    return 0;
}

static int runner_options(const runner_choice *c, const char *const *overrides,
                          crun_options **out, crun_error *err)
{
    char owner[300];
    snprintf(owner, sizeof(owner), "runner '%s'", c->name);
    crun_options *opts = options_from_conf(NULL, owner);
    if (!opts)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; c->entry && i < c->entry->n; i++) {
        const conf_node *k = c->entry->items[2 * i];
        if (strcmp(k->str, "type") == 0)
            continue;
        char where[512];
        options_set(opts, k->str, conf_to_json(c->entry->items[2 * i + 1]),
                    conf_where(c->entry->items[2 * i + 1], where, sizeof(where)));
    }
    for (size_t i = 0; overrides && overrides[i]; i++) {
        const char *eq = strchr(overrides[i], '=');
        if (!eq || eq == overrides[i]) {
            crun_options_free(opts);
            return crun_error_set(err, CRUN_EUSAGE, "--runner-opt: expected key=value, got '%s'",
                                  overrides[i]);
        }
        char *key = strndup(overrides[i], (size_t)(eq - overrides[i]));
        if (!key) {
            crun_options_free(opts);
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        }
        options_set(opts, key, json_string(eq + 1), "--runner-opt");
        free(key);
    }
    *out = opts;
    return 0;
}

/* Load the plugin of a choice; at the top (via NULL) an unknown name given
 * on the command line gets a suggestion, below it the `runner:` line. */
static int load_choice(crun_session *s, const runner_choice *c, const conf_node *via,
                       const char *wrapper, bool asked, const crun_plugin **plug,
                       crun_error *err)
{
    int rc = plugin_load(&s->plugins, CRUN_PLUGIN_RUNNER, c->type, plug, err);
    if (!rc)
        return 0;
    const char *names[128];
    const char *best = c->entry ? NULL : suggest_closest(c->name, names, runner_names(s, names, 128));
    if (via && !c->entry)
        return conf_error(err, via, "runner '%s': runner: unknown runner '%s'%s%s%s (a name "
                          "under 'runners', or a runner plugin)", wrapper, c->name,
                          best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
    if (!via && asked && best)
        return crun_error_set(err, CRUN_EUSAGE, "--runner: unknown runner '%s' (did you mean "
                              "'%s'?)", c->name, best);
    return crun_error_prefix(err, "%s: runner '%s': ", c->where, c->name);
}

/* The runner asked for and the runners it wraps, outermost first, each
 * with its plugin: `runner:` keys followed through runner.yml until a
 * runner without one.  Unknown names and cycles are errors at the
 * `runner:` that names them. */
enum { STACK_MAX = 16 };
typedef struct runner_stack {
    runner_choice c[STACK_MAX];
    const crun_plugin *plug[STACK_MAX];
    size_t n;
} runner_stack;

static int cycle_error(const runner_stack *st, const conf_node *via, const char *name,
                       crun_error *err)
{
    char chain[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < st->n && len < sizeof(chain); i++)
        len += (size_t)snprintf(chain + len, sizeof(chain) - len, "%s -> ", st->c[i].name);
    if (len < sizeof(chain))
        snprintf(chain + len, sizeof(chain) - len, "%s", name);
    return conf_error(err, via, "runner '%s': runner: '%s' makes a cycle: %s",
                      st->c[st->n - 1].name, name, chain);
}

static int resolve_stack(crun_session *s, const char *asked, runner_stack *st, crun_error *err)
{
    st->n = 0;
    const char *name = asked;
    const conf_node *via = NULL;
    for (;;) {
        for (size_t i = 0; via && i < st->n; i++)
            if (strcmp(st->c[i].name, name) == 0)
                return cycle_error(st, via, name, err);
        if (st->n == STACK_MAX)
            return conf_error(err, via, "runner: stacks deeper than %d runners are refused",
                              STACK_MAX);
        runner_choice *c = &st->c[st->n];
        int rc = choose_runner(s, name, c, err);
        if (!rc && via)
            conf_where(via, c->where, sizeof(c->where));
        if (!rc)
            rc = load_choice(s, c, via, st->n ? st->c[st->n - 1].name : NULL, asked != NULL,
                             &st->plug[st->n], err);
        if (rc)
            return rc;
        st->n++;
        const conf_node *next = c->entry ? conf_get(c->entry, "runner") : NULL;
        if (!next)
            return 0;
        if (next->kind != CONF_SCALAR || !next->str[0])
            return conf_error(err, next, "runner '%s': 'runner' must name the runner it wraps",
                              c->name);
        via = next;
        name = next->str;
    }
}

/* Each runner's check(), outermost first; --runner-opt reaches the top one. */
static int check_stack(crun_session *s, const runner_stack *st, const char *const *overrides,
                       crun_error *err)
{
    for (size_t i = 0; i < st->n; i++) {
        const crun_runner_type *t = st->plug[i]->table;
        if (!t->check)
            continue;
        crun_options *opts = NULL;
        int rc = runner_options(&st->c[i], i == 0 ? overrides : NULL, &opts, err);
        if (!rc && (rc = t->check(opts, s, err)) != 0 && !err->message)
            crun_error_set(err, rc, "runner '%s' refused its options", st->c[i].name);
        crun_options_free(opts);
        if (rc)
            return err->code ? err->code : CRUN_ECONFIG;
    }
    return 0;
}

void session_log_choice(crun_session *s, const crun_run_options *o)
{
    if (s->logger.level < CRUN_LOG_DEBUG)
        return;
    char *stack = runner_stack_text(s, o->runner);
    crun_log(&s->logger, CRUN_LOG_DEBUG, "project '%s' in %s, env '%s', runner %s",
             s->ir->project ? s->ir->project : "", s->ir->dir ? s->ir->dir : ".", s->env,
             stack ? stack : "?");
    free(stack);
}

int crun_session_check_runner(crun_session *s, const char *name, crun_error *err)
{
    runner_stack st;
    int rc = resolve_stack(s, name, &st, err);
    return rc ? rc : check_stack(s, &st, NULL, err);
}

/* "tune -> sturdy -> par(parallel)": the runner and what it wraps, the
 * last with its type; or why it does not resolve.  A new string. */
char *runner_stack_text(crun_session *s, const char *name)
{
    runner_stack st;
    crun_error err = CRUN_ERROR_INIT;
    char *text = NULL;
    if (resolve_stack(s, name, &st, &err) != 0) {
        if (asprintf(&text, "error: %s", err.message ? err.message : "unresolved") < 0)
            text = NULL;
        crun_error_clear(&err);
        return text;
    }
    size_t len = 0;
    for (size_t i = 0; i < st.n; i++)
        len += strlen(st.c[i].name) + strlen(st.c[i].type) + 8;
    if (!(text = malloc(len + 1)))
        return NULL;
    char *t = text;
    for (size_t i = 0; i < st.n; i++) {
        bool last = i + 1 == st.n, typed = last && strcmp(st.c[i].name, st.c[i].type) != 0;
        t += sprintf(t, "%s%s%s%s%s", i ? " -> " : "", st.c[i].name, typed ? "(" : "",
                     typed ? st.c[i].type : "", typed ? ")" : "");
    }
    return text;
}

static int open_runner(crun_session *s, const crun_run_options *o, runner_inst *r, crun_error *err)
{
    runner_stack st;
    int rc = resolve_stack(s, o->runner, &st, err);
    if (!rc)
        rc = check_stack(s, &st, o->runner_opts, err);
    if (rc)
        return rc;
    crun_options *opts = NULL;
    if ((rc = runner_options(&st.c[0], o->runner_opts, &opts, err)))
        return rc;
    r->type = st.plug[0]->table;
    rc = r->type->create(opts, &s->logger, &r->instance, err);
    crun_options_free(opts);
    if (rc) {
        r->type = NULL;
        if (!err->message)
            crun_error_set(err, CRUN_ECONFIG, "runner '%s' refused its options", st.c[0].name);
        return CRUN_ECONFIG;
    }
    return 0;
}

/* What identifies a runner instance: the runner asked for and its options. */
static char *runner_key(const crun_run_options *o)
{
    size_t len = strlen(o->runner ? o->runner : "") + 1;
    for (size_t i = 0; o->runner_opts && o->runner_opts[i]; i++)
        len += strlen(o->runner_opts[i]) + 1;
    char *key = malloc(len), *k = key;
    if (!key)
        return NULL;
    k = stpcpy(k, o->runner ? o->runner : "");
    for (size_t i = 0; o->runner_opts && o->runner_opts[i]; i++) {
        *k++ = '\n';
        k = stpcpy(k, o->runner_opts[i]);
    }
    return key;
}

/* Whether key is runner_key(o), without making it (each run asks). */
static bool key_is(const char *key, const crun_run_options *o)
{
    const char *name = o->runner ? o->runner : "";
    size_t n = strlen(name);
    if (strncmp(key, name, n) != 0)
        return false;
    key += n;
    for (size_t i = 0; o->runner_opts && o->runner_opts[i]; i++) {
        n = strlen(o->runner_opts[i]);
        if (*key++ != '\n' || strncmp(key, o->runner_opts[i], n) != 0)
            return false;
        key += n;
    }
    return *key == '\0';
}

/* The runner instance for a run.  A runner flagged CRUN_RUNNER_SHARED is
 * made once per session and options and serves every such run (*shared
 * set); any other gets an instance of its own, destroyed after the run. */
int session_get_runner(crun_session *s, const crun_run_options *o, runner_inst *r,
                       bool *shared, crun_error *err)
{
    *shared = false;
    shared_runner *last = atomic_load_explicit(&s->last_runner, memory_order_acquire);
    if (last && key_is(last->key, o)) {
        *r = (runner_inst){last->type, last->instance};
        *shared = true;
        return 0;
    }
    char *key = runner_key(o);
    if (!key)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    pthread_mutex_lock(&s->cache_lock);
    shared_runner *sr = s->runners;
    while (sr && strcmp(sr->key, key) != 0)
        sr = sr->next;
    int rc = 0;
    if (!sr && !(rc = open_runner(s, o, r, err)) && (r->type->flags & CRUN_RUNNER_SHARED)) {
        if ((sr = malloc(sizeof(*sr)))) {
            *sr = (shared_runner){.next = s->runners, .key = key, .type = r->type,
                                  .instance = r->instance};
            s->runners = sr;
            key = NULL;
        } else {
            if (r->type->destroy)
                r->type->destroy(r->instance);
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        }
    }
    if (sr && !rc) {
        *r = (runner_inst){sr->type, sr->instance};
        *shared = true;
        atomic_store_explicit(&s->last_runner, sr, memory_order_release);
    }
    pthread_mutex_unlock(&s->cache_lock);
    free(key);
    return rc;
}
