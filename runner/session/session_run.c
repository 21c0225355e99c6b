/* session_run.c - one run of a session, from the options to the result.
 *
 * crun_session_run reads the caller's options at this host's size, lays the
 * run's parameters over the session's, plans (or takes the session's plan),
 * makes the run and its runner, fires the pipeline hooks around the
 * runner's run(), and hands the result over as far as the caller's size
 * goes: failed nodes, the command that resumes, outputs and timings.  Runs
 * inside runs (crun_run_delegate) come through session_run with their
 * outer run.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session.h"
#include "core/suggest.h"
#include "run/incremental.h"

static bool needs_quotes(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr(",._-:/=+@", *s)))
            return true;
    return false;
}

static void append_arg(char **cmd, const char *flag, const char *value)
{
    if (!value)
        return;
    char *next = NULL;
    int n = needs_quotes(value) ? asprintf(&next, "%s %s '%s'", *cmd, flag, value)
                                : asprintf(&next, "%s %s %s", *cmd, flag, value);
    if (n >= 0) {
        free(*cmd);
        *cmd = next;
    }
}

/* Append the leaves of a run's parameter overrides to *text as
 * "a.b=value" (JSON for what is not a string), comma-separated. */
static void append_params(char **text, const char *prefix, json_t *over)
{
    const char *key;
    json_t *v;
    json_object_foreach(over, key, v) {
        char *path = NULL, *next = NULL;
        if (asprintf(&path, "%s%s%s", prefix, prefix[0] ? "." : "", key) < 0)
            return;
        if (json_is_object(v) && json_object_size(v)) {
            append_params(text, path, v);
            free(path);
            continue;
        }
        char *val = json_is_string(v) ? strdup(json_string_value(v))
                                      : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (val && asprintf(&next, "%s%s%s=%s", *text ? *text : "", *text ? "," : "", path,
                            val) >= 0) {
            free(*text);
            *text = next;
        }
        free(val);
        free(path);
    }
}

/* The same command as the failed run (project, env, IR, params, runner,
 * filters), restarting from the nodes given. */
static char *resume_command(crun_session *s, const crun_run_options *o, const char *from)
{
    char *cmd = strdup("crun run");
    if (!cmd)
        return NULL;
    append_arg(&cmd, "--project", s->given_project);
    append_arg(&cmd, "--ir", s->given_ir);
    if (s->given_env || (s->project && strcmp(s->env, s->project->default_env) != 0))
        append_arg(&cmd, "--env", s->env);
    char *params = s->given_params ? strdup(s->given_params) : NULL;
    if (json_is_object(o->params))
        append_params(&params, "", o->params);
    append_arg(&cmd, "--params", params);
    free(params);
    append_arg(&cmd, "--runner", o->runner);
    append_arg(&cmd, "--pipeline", o->filter->pipeline);
    append_arg(&cmd, "--tags", o->filter->tags);
    append_arg(&cmd, "--nodes", o->filter->nodes);
    append_arg(&cmd, "--to-nodes", o->filter->to_nodes);
    append_arg(&cmd, "--from-inputs", o->filter->from_inputs);
    append_arg(&cmd, "--to-outputs", o->filter->to_outputs);
    append_arg(&cmd, "--load-versions", o->load_versions);
    const char *const levels[] = {"none", "run", "node"};
    int level = o->size >= offsetof(crun_run_options, durability) + sizeof(o->durability)
                    ? o->durability : 0;
    append_arg(&cmd, "--durability", level >= 1 && level <= 3 ? levels[level - 1] : NULL);
    append_arg(&cmd, "--from-nodes", from);
    return cmd;
}

static void fill_result(crun_session *s, crun_run *run, const crun_run_options *o,
                        bool inner, crun_run_result *res)
{
    const plan *p = run->plan;
    res->nodes_total = p->n;
    res->nodes_done = run->n_done;
    res->nodes_up_to_date = run->n_up_to_date;
    res->delegated = run->delegated;
    if (res->status == 0)
        return;
    if (run->delegated && run->inner.failed_nodes) {
        /* the plan failed in a run the runner handed it to: that is the
         * failure, resumed by this run's runner from where that one stopped */
        res->failed_nodes = run->inner.failed_nodes;
        res->resume_from = run->inner.resume_from;
        run->inner.failed_nodes = NULL;
        run->inner.resume_from = NULL;
        if (res->resume_from)
            res->resume_command = resume_command(s, o, res->resume_from);
        return;
    }
    size_t nf = 0;
    res->failed_nodes = calloc(run->n_failed + 1, sizeof(char *));
    for (size_t i = 0; res->failed_nodes && i < p->n; i++)
        if (run->state[i] == NODE_FAILED)
            res->failed_nodes[nf++] = strdup(crun_run_node_name(run, i));
    /* a runner that failed before any node ran or failed (a service that
     * cannot listen) leaves nothing to resume from */
    if (run->n_done == 0 && run->n_failed == 0)
        return;
    /* files given with --input/--output belong to the engine that staged
     * them: it reruns its step, and a --from-nodes command could not say
     * which of them the resumed nodes still make */
    if (catalog_given_path_count(o) > 0)
        return;
    unsigned char *done = malloc(p->n + 1);
    if (!done)
        return;
    size_t n_done = 0;
    for (size_t i = 0; i < p->n; i++)
        n_done += done[i] = run->state[i] == NODE_DONE;
    /* nor does a failed run that started nodes and finished none: Kedro says
     * to repeat the command (an interrupted one still gets its command; a
     * run inside a run, one of several, tells its outer run where it stopped) */
    if (n_done == 0 && run->n_started > 0 && res->status != CRUN_ECANCELED && !inner) {
        free(done);
        return;
    }
    res->resume_from = plan_resume_nodes(p, done, catalog_persisted, &run->catalog);
    free(done);
    if (res->resume_from)
        res->resume_command = resume_command(s, o, res->resume_from);
}

#define HAS(res, m) CRUN_HAS_MEMBER(res, crun_run_result, m)

void crun_run_result_clear(crun_run_result *res)
{
    if (!res || res->size < sizeof(uint32_t))
        return;
    if (HAS(res, run_id))
        free(res->run_id);
    for (size_t i = 0; HAS(res, failed_nodes) && res->failed_nodes && res->failed_nodes[i]; i++)
        free(res->failed_nodes[i]);
    if (HAS(res, failed_nodes))
        free(res->failed_nodes);
    if (HAS(res, resume_command))
        free(res->resume_command);
    if (HAS(res, resume_from))
        free(res->resume_from);
    /* output_values is NULL-terminated: a result cut short before n_outputs
     * still lets go of its values */
    for (size_t i = 0; HAS(res, output_values) && res->output_values && res->output_values[i]; i++)
        crun_value_unref(res->output_values[i]);
    if (HAS(res, output_names))
        free(res->output_names); /* the block of every output and timing array */
    if (HAS(res, decisions))
        json_decref(res->decisions);
    uint32_t size = res->size;
    memset(res, 0, size < sizeof(*res) ? size : sizeof(*res));
    res->size = size;
}

/* Hand the full result over to the caller's, as far as its size goes; what
 * does not fit is freed. */
void session_result_reset(crun_run_result *res)
{
    uint32_t size = res->size;
    memset(res, 0, size < sizeof(*res) ? size : sizeof(*res));
    res->size = size;
}

void session_result_out(crun_run_result *dst, crun_run_result *full)
{
    size_t n = dst->size < sizeof(*full) ? dst->size : sizeof(*full);
    memcpy((char *)dst + sizeof(uint32_t), (char *)full + sizeof(uint32_t),
           n - sizeof(uint32_t));
    memset((char *)full + sizeof(uint32_t), 0, n - sizeof(uint32_t));
    crun_run_result_clear(full);
}

static int pipeline_hooks(crun_run *run, crun_hook_point point, const crun_error *e, int status,
                          crun_error *err)
{
    crun_hook_event ev = {.error = e, .status = status};
    return run_hooks_fire(run, point, &ev, err);
}

/* The run's `durability: run` saves reach the disk before it reports
 * success; a failed run syncs what it saved too (a resume keeps it), and a
 * failure of that sync is only logged. */
static int sync_saves(crun_session *s, crun_run *run, int rc, crun_error *err)
{
    if (!rc)
        return catalog_sync(&run->catalog, err);
    crun_error serr = CRUN_ERROR_INIT;
    if (catalog_sync(&run->catalog, &serr) != 0)
        logger_write(&s->logger, CRUN_LOG_ERROR, NULL, "%s", serr.message);
    crun_error_clear(&serr);
    return rc;
}

static int execute(crun_session *s, crun_run *run, runner_inst *r, crun_error *err)
{
    int rc = pipeline_hooks(run, CRUN_HOOK_AFTER_CATALOG_CREATED, NULL, 0, err);
    if (!rc)
        rc = pipeline_hooks(run, CRUN_HOOK_BEFORE_PIPELINE_RUN, NULL, 0, err);
    if (!rc) {
        /* an incremental run with every node up to date has nothing to run */
        rc = run->plan->n ? r->type->run(r->instance, run, err) : 0;
        if (!rc && run->failed) /* a runner that reported failure but returned 0 */
            rc = run->first_error.code;
        if (!rc && crun_run_cancelled(run) && !run->delegated)
            rc = crun_error_set(err, CRUN_ECANCELED, "the run was cancelled");
        if (!rc && !crun_run_finished(run) && !run->delegated)
            rc = crun_error_set(err, CRUN_ENODE, "the runner stopped with %zu of %zu nodes done",
                                run->n_done, run->plan->n);
        if (rc && !err->message && run->first_error.message)
            crun_error_set(err, rc, "%s", run->first_error.message);
    }
    logger_progress_end(&s->logger);
    rc = sync_saves(s, run, rc, err);
    if (rc) {
        crun_error herr = CRUN_ERROR_INIT;
        if (pipeline_hooks(run, CRUN_HOOK_ON_PIPELINE_ERROR, err, rc, &herr) != 0)
            logger_write(&s->logger, CRUN_LOG_ERROR, NULL, "%s", herr.message);
        crun_error_clear(&herr);
        return rc;
    }
    return pipeline_hooks(run, CRUN_HOOK_AFTER_PIPELINE_RUN, NULL, 0, err);
}

/* base (the session's parameters) with over (the run's, private to it)
 * laid over it, as a new tree sharing nothing with base; keys base does
 * not have are refused.  NULL with err set on failure. */
static json_t *overlay_params(json_t *base, json_t *over, const char *prefix, crun_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(over, key, v) {
        if (json_object_get(base, key))
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        const char *names[256];
        size_t n = 0;
        const char *k2;
        json_t *v2;
        json_object_foreach(base, k2, v2) {
            if (n < 256)
                names[n++] = k2;
        }
        const char *best = suggest_closest(key, names, n);
        crun_error_set(err, CRUN_EUSAGE, "params: unknown parameter '%s'%s%s%s", path,
                       best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
        return NULL;
    }
    json_t *out = json_object();
    json_object_foreach(base, key, v) {
        json_t *ov = json_object_get(over, key), *nv;
        if (!ov) {
            nv = params_private_copy(v);
        } else if (json_is_object(v) && json_is_object(ov)) {
            char path[512];
            snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
            if (!(nv = overlay_params(v, ov, path, err))) {
                json_decref(out);
                return NULL;
            }
        } else {
            nv = json_incref(ov);
        }
        if (!out || !nv || json_object_set_new(out, key, nv)) {
            json_decref(out);
            crun_error_set(err, CRUN_ENOMEM, "out of memory");
            return NULL;
        }
    }
    return out;
}

/* The overrides that are parameters: a copy of over without the keys that
 * parameters lack but the catalog reads as ${runtime_params:key} (those
 * only reach the catalog, as with --params). */
static json_t *parameter_part(json_t *base, json_t *over, const conf_node *raw,
                              const char *prefix)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(over, key, v) {
        char path[512];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        json_t *b = json_object_get(base, key), *nv;
        if (!b && conf_refers_to(raw, "runtime_params", path))
            continue;
        nv = b && json_is_object(b) && json_is_object(v) ? parameter_part(b, v, raw, path)
                                                         : json_incref(v);
        if (!out || !nv || json_object_set_new(out, key, nv)) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* The run's parameters: NULL for the session's own (borrowed by the run),
 * else a private tree with the run's overrides. */
static int run_params(crun_session *s, const crun_run_options *o, json_t **out, crun_error *err)
{
    *out = NULL;
    if (!o->params)
        return 0;
    if (!json_is_object(o->params))
        return crun_error_set(err, CRUN_EUSAGE, "params: expected an object of parameters");
    const conf_node *raw = s->project ? s->project->catalog_raw : NULL;
    json_t *over = raw ? parameter_part(s->ir->params, o->params, raw, "") : o->params;
    if (!over)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    *out = overlay_params(s->ir->params, over, "", err);
    if (raw)
        json_decref(over);
    if (!*out)
        return err->code ? err->code : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    return 0;
}

/* The free outputs (made by a node, read by none) and the node timings.
 * The four arrays and the names' text (copies: a result outlives the
 * session) are one allocation, owned through
 * output_names (crun_run_result_clear frees it): a service makes a result
 * per request, and each allocation shows. */
static void collect_outputs(crun_run *run, crun_run_result *res)
{
    const plan *p = run->plan;
    size_t n = 0, text = 0;
    for (size_t ds = 0; ds < run->ir->n_ds; ds++)
        if (p->producer[ds] != PLAN_NONE && p->consumers[ds] == 0) {
            n++;
            text += strlen(run->ir->ds[ds].name) + 1;
        }
    for (size_t i = 0; i < p->n; i++)
        if (run->state[i] == NODE_DONE || run->state[i] == NODE_FAILED)
            text += strlen(crun_run_node_name(run, i)) + 1;
    size_t ptrs = (n + 1) * sizeof(char *) + (n + 1) * sizeof(crun_value *) +
                  (p->n + 1) * sizeof(char *);
    char *block = malloc(ptrs + (p->n + 1) * sizeof(double) + text);
    if (!block)
        return;
    res->output_names = (char **)(void *)block;
    res->output_values = (crun_value **)(void *)(block + (n + 1) * sizeof(char *));
    res->timed_nodes = (char **)(void *)(res->output_values + n + 1);
    res->timed_seconds = (double *)(void *)(block + ptrs);
    char *names = (char *)(res->timed_seconds + p->n + 1);
    for (size_t ds = 0; ds < run->ir->n_ds; ds++) {
        if (p->producer[ds] == PLAN_NONE || p->consumers[ds] != 0)
            continue;
        crun_value *v = NULL;
        crun_error lerr = CRUN_ERROR_INIT;
        if (catalog_entry_load(&run->catalog, ds, &v, &lerr) == 0 && v) {
            size_t len = strlen(run->ir->ds[ds].name) + 1;
            memcpy(names, run->ir->ds[ds].name, len);
            res->output_names[res->n_outputs] = names;
            res->output_values[res->n_outputs++] = v;
            names += len;
        }
        crun_error_clear(&lerr);
    }
    res->output_names[res->n_outputs] = NULL;
    res->output_values[res->n_outputs] = NULL;
    for (size_t i = 0; i < p->n; i++)
        if (run->state[i] == NODE_DONE || run->state[i] == NODE_FAILED) {
            size_t len = strlen(crun_run_node_name(run, i)) + 1;
            memcpy(names, crun_run_node_name(run, i), len);
            res->timed_nodes[res->n_timed] = names;
            names += len;
            res->timed_seconds[res->n_timed++] = run->seconds[i];
        }
}

/* A run id names folders (.crun/runs/ID, the scratch folder): a word of
 * letters, digits, '.', '_' and '-' that fits crun_run's buffer, never a
 * path. */
static int check_run_id(const char *id, crun_error *err)
{
    size_t len = strlen(id);
    bool ok = len > 0 && len < CRUN_RUN_ID_MAX && id[0] != '.' && id[0] != '-';
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum((unsigned char)id[i]) || id[i] == '.' || id[i] == '_' || id[i] == '-';
    if (ok)
        return 0;
    return crun_error_set(err, CRUN_EUSAGE, "run id '%s' is not a word of at most %d letters, "
                          "digits, '.', '_' or '-' (not starting with '.' or '-')", id,
                          CRUN_RUN_ID_MAX - 1);
}

int session_run(crun_session *s, const crun_run_options *o, crun_run_result *res,
                const delegation *d, crun_error *err)
{
    plan *p;
    json_t *params = NULL;
    int rc = o->run_id ? check_run_id(o->run_id, err) : 0;
    if (!rc && o->load_versions && !d)
        rc = session_check_load_versions(s, o->load_versions, err);
    if (rc)
        return res->status = rc;
    rc = run_params(s, o, &params, err);
    if (rc)
        return res->status = rc;
    /* a run given its id is one part of a larger run: memory datasets that
     * cross its boundary are shared with the other parts through files (a
     * run inside a run is the whole of it, as its outer run was) */
    const char *given_id = d ? d->outer->opts->run_id : o->run_id;
    bool shared = session_plain_run(o, given_id);
    if ((rc = shared ? session_shared_plan(s, o->filter->pipeline, &p, err)
                     : plan_build_flags(s->ir, o->filter, given_id ? PLAN_CROSS_SHARED : 0,
                                        o->input_names, o->n_inputs, &p, err))) {
        json_decref(params);
        return res->status = rc;
    }
    if (!d && !o->collect_outputs) /* a service returns free outputs: not lost there */
        session_warn_free_outputs(s, p);
    runner_inst r = {0};
    crun_run *run = NULL;
    bool runner_shared = false;
    rc = run_create(&s->shared, s, p, shared, params, o, &run, err); /* takes params */
    if (!rc)
        rc = inner_run_begin(run, d, err);
    if (!rc)
        rc = session_get_runner(s, o, &r, &runner_shared, err);
    if (rc) {
        inner_run_end(run, d, NULL);
        run_destroy(run);
        return res->status = rc;
    }
    res->run_id = strdup(run->run_id);
    if (!d)
        session_log_choice(s, o);
    /* which nodes are up to date is decided where nodes execute: a runner
     * that hands the plan to runs of its own leaves it to them */
    bool decide = o->dry_run || (o->incremental && (r.type->flags & CRUN_RUNNER_EXECUTES));
    rc = incr_begin(run, o, err);
    if (!rc && decide)
        rc = incr_decide(run, o->dry_run ? &res->decisions : NULL, err);
    if (rc || o->dry_run) {
        res->status = rc;
        res->nodes_total = run->plan->n;
        inner_run_end(run, d, NULL);
        if (!runner_shared && r.type->destroy)
            r.type->destroy(r.instance);
        run_destroy(run);
        return rc;
    }
    if (!o->own_cancel && !d)
        session_register_run(s, run, true);
    if (o->on_run)
        o->on_run(o->on_run_user, run);
    rc = execute(s, run, &r, err);
    if (o->on_run)
        o->on_run(o->on_run_user, NULL);
    if (!o->own_cancel && !d)
        session_register_run(s, run, false);
    res->status = rc;
    fill_result(s, run, o, d != NULL, res);
    if (o->collect_outputs && rc == 0)
        collect_outputs(run, res);
    inner_run_end(run, d, res);
    if (!runner_shared && r.type->destroy)
        r.type->destroy(r.instance);
    run_destroy(run);
    return rc;
}

int crun_session_run(crun_session *s, const crun_run_options *given, crun_run_result *res,
                     crun_error *err)
{
    if (!given || !res)
        return crun_error_set(err, CRUN_EINVAL, "crun_session_run: no %s",
                              given ? "result" : "options");
    if (res->size < sizeof(uint32_t))
        return crun_error_set(err, CRUN_EINVAL, "crun_run_result: size %u: start from "
                              "CRUN_RUN_RESULT_INIT", res->size);
    session_result_reset(res);
    crun_run_options o = CRUN_RUN_OPTIONS_INIT;
    crun_filter f;
    crun_run_result full = CRUN_RUN_RESULT_INIT;
    int rc = abi_struct_in(&o, sizeof(o), given, "crun_run_options", err);
    if (!rc)
        rc = session_filter_in(o.filter, &f, err);
    if (rc) {
        if (HAS(res, status))
            res->status = rc;
        return rc;
    }
    o.filter = &f;
    rc = session_run(s, &o, &full, NULL, err);
    session_result_out(res, &full);
    return rc;
}

/* --- runs inside runs ------------------------------------------------------- */

int inner_run_begin(crun_run *run, const delegation *d, crun_error *err)
{
    if (!d)
        return 0;
    snprintf(run->run_id, sizeof(run->run_id), "%s", d->run_id);
    if (logger_init_child(&run->own_logger, d->outer->logger, d->label) != 0) {
        logger_destroy(&run->own_logger);
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    run->own_logger_set = true;
    run->logger = &run->own_logger;
    run->catalog.logger = run->logger; /* entries opened since log with the label */
    inner_runs *in = &d->outer->inner;
    int rc = 0;
    pthread_mutex_lock(&d->outer->lock);
    d->outer->delegated = true;
    if (in->n_active == in->cap_active) {
        size_t cap = in->cap_active ? in->cap_active * 2 : 4;
        crun_run **a = realloc(in->active, cap * sizeof(*a));
        if (a) {
            in->active = a;
            in->cap_active = cap;
        }
    }
    if (in->n_active < in->cap_active)
        in->active[in->n_active++] = run;
    else
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (!rc && crun_run_cancelled(d->outer))
        crun_run_cancel(run);
    pthread_mutex_unlock(&d->outer->lock);
    return rc;
}

static char **copy_names(char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out && i < n; i++)
        if (!(out[i] = strdup(names[i]))) {
            for (size_t k = 0; k < i; k++)
                free(out[k]);
            free(out);
            return NULL;
        }
    return out;
}

void inner_run_end(crun_run *run, const delegation *d, const crun_run_result *res)
{
    if (!d || !run)
        return;
    inner_runs *in = &d->outer->inner;
    bool failed = res && res->status && res->status != CRUN_ECANCELED && res->failed_nodes;
    char **names = failed ? copy_names(res->failed_nodes) : NULL;
    char *resume = failed && res->resume_from ? strdup(res->resume_from) : NULL;
    pthread_mutex_lock(&d->outer->lock);
    for (size_t i = 0; i < in->n_active; i++)
        if (in->active[i] == run) {
            in->active[i] = in->active[--in->n_active];
            break;
        }
    if (names) { /* the last failure is the one reported */
        char **old = in->failed_nodes;
        char *old_resume = in->resume_from;
        in->failed_nodes = names;
        in->resume_from = resume;
        names = old;
        resume = old_resume;
    }
    pthread_mutex_unlock(&d->outer->lock);
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
    free(resume);
}

/* The outer run's parameter overrides with the inner ones laid over them
 * (a new tree), or NULL for none. */
static json_t *inner_params(const crun_run *outer, json_t *over)
{
    json_t *base = outer->opts->params;
    if (!json_is_object(base) || !json_object_size(base))
        return over ? json_deep_copy(over) : NULL;
    json_t *merged = json_deep_copy(base);
    if (merged && over && json_object_update_recursive(merged, over) != 0) {
        json_decref(merged);
        return NULL;
    }
    return merged;
}

/* The inner run's id: the one given (checked as crun_session_run checks
 * ids), else "<outer id>-<suffix or k>". */
static int delegate_id(const crun_run *outer, const crun_delegate_options *o, unsigned k,
                       char id[CRUN_RUN_ID_MAX], crun_error *err)
{
    if (o->run_id) {
        int rc = check_run_id(o->run_id, err);
        if (!rc)
            snprintf(id, CRUN_RUN_ID_MAX, "%s", o->run_id);
        return rc;
    }
    int n = o->id_suffix ? snprintf(id, CRUN_RUN_ID_MAX, "%s-%s", outer->run_id, o->id_suffix)
                         : snprintf(id, CRUN_RUN_ID_MAX, "%s-%u", outer->run_id, k);
    if (n < 0 || n >= CRUN_RUN_ID_MAX)
        return crun_error_set(err, CRUN_EUSAGE, "run id '%s-%s' is longer than %d characters",
                              outer->run_id, o->id_suffix ? o->id_suffix : "N",
                              CRUN_RUN_ID_MAX - 1);
    return 0;
}

int crun_run_delegate(crun_run *outer, const crun_delegate_options *given, crun_run_result *res,
                      crun_error *err)
{
    crun_delegate_options o = CRUN_DELEGATE_OPTIONS_INIT;
    crun_filter f = CRUN_FILTER_INIT;
    int rc = given ? abi_struct_in(&o, sizeof(o), given, "crun_delegate_options", err)
                   : crun_error_set(err, CRUN_EINVAL, "crun_run_delegate: no options");
    if (!rc && (!res || res->size < sizeof(uint32_t)))
        rc = crun_error_set(err, CRUN_EINVAL, "crun_run_result: size %u: start from "
                            "CRUN_RUN_RESULT_INIT", res ? res->size : 0);
    if (!rc && !o.runner)
        rc = crun_error_set(err, CRUN_EINVAL, "crun_run_delegate: no runner named");
    if (!rc && o.filter)
        rc = abi_struct_in(&f, sizeof(f), o.filter, "crun_filter", err);
    if (rc)
        return rc;
    session_result_reset(res);
    if (crun_run_cancelled(outer))
        return crun_error_set(err, CRUN_ECANCELED, "the run was cancelled");
    char id[CRUN_RUN_ID_MAX];
    unsigned k = atomic_fetch_add(&outer->n_delegated, 1) + 1;
    if ((rc = delegate_id(outer, &o, k, id, err)) != 0)
        return rc;
    crun_run_options ro = *outer->opts;
    ro.runner = o.runner;
    ro.runner_opts = NULL;
    ro.run_id = NULL;
    if (!o.filter)
        f = *outer->opts->filter;
    if (o.from_nodes)
        f.from_nodes = o.from_nodes;
    ro.filter = &f;
    ro.collect_outputs = o.collect_outputs;
    ro.memory_outputs = ro.memory_outputs || o.memory_outputs;
    ro.write_own_outputs = o.memory_outputs && !outer->opts->memory_outputs;
    ro.on_run = NULL;
    ro.params = inner_params(outer, o.params);
    if ((o.params || outer->opts->params) && !ro.params)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    delegation d = {.outer = outer, .label = o.label, .run_id = id};
    crun_run_result full = CRUN_RUN_RESULT_INIT;
    rc = session_run(outer->session, &ro, &full, &d, err);
    json_decref(ro.params);
    if (rc && o.label && err && err->message)
        crun_error_prefix(err, "%s: ", o.label);
    session_result_out(res, &full);
    return rc;
}
