/* command.c - command nodes: argv templates, files for data, child processes.
 *
 * A command node exchanges data through files.  An input whose dataset has a
 * file of its own is passed by that path; anything else (memory datasets,
 * parameters, versioned entries) is serialised once per run into the run's
 * scratch folder.  An output whose dataset can adopt a file gets a temporary
 * name in the dataset's own folder, renamed into place only when the command
 * succeeds (so a failing or killed command never leaves half an output);
 * other outputs are written to scratch and saved through the dataset.
 * The child is started, followed and reaped by run/process.c (one policy
 * for every child of crun); a node ends when its process exits, and
 * whatever it left running in its group (a background job, which may hold
 * the output pipe) is stopped then.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/file_saves.h"
#include "plugin/plugin.h"
#include "run/run.h"
#include "run/incremental.h"

typedef struct out_file {
    char *path;
    bool direct; /* a temporary file beside the dataset's own file */
} out_file;

struct cmd_state {
    crun_command cmd;
    char **argv;
    size_t argc;
    char **envp;
    char *env_own[3];
    out_file *outs;
    size_t n_outs;
};

void command_state_free(cmd_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->argc; i++)
        free(st->argv[i]);
    free(st->argv);
    free(st->envp);
    for (size_t i = 0; i < 3; i++)
        free(st->env_own[i]);
    for (size_t i = 0; i < st->n_outs; i++) {
        if (st->outs[i].direct && st->outs[i].path) /* there only if never committed */
            run_remove_tree(st->outs[i].path);
        free(st->outs[i].path);
    }
    free(st->outs);
    free(st);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void sanitize(char *s)
{
    for (; *s; s++)
        if (*s == '/' || *s == ':' || *s == ' ')
            *s = '_';
}

static int dataset_hook(crun_run *run, crun_hook_point point, size_t ds, crun_call *call,
                        crun_error *err)
{
    if (!run_has_hooks(run))
        return 0; /* commands are slow: no need for an inline fast path here */
    crun_hook_event ev = {.node = call ? call->node->name : NULL, .call = call,
                          .dataset = run->ir->ds[ds].name};
    return run_hooks_fire(run, point, &ev, err);
}

static int command_hooks(crun_run *run, crun_hook_point point, crun_call *call, crun_error *err)
{
    if (!run_has_hooks(run))
        return 0;
    crun_hook_event ev = {.node = call->node->name, .call = call, .attempt = call->attempt};
    return run_hooks_fire(run, point, &ev, err);
}

/* path holding data, whole: written under a temporary name and renamed
 * into place, so that a reader never sees it half-written.  Two nodes that
 * need the same input at once each write a copy; the last rename wins, and
 * both are the same bytes. */
static int write_whole(const char *path, const char *data, size_t len, crun_error *err)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int fd = mkostemp(tmp, O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int rc = 0;
    if (!f || fwrite(data, 1, len, f) != len || fflush(f) != 0 || rename(tmp, path) != 0)
        rc = crun_error_set(err, CRUN_EIO, "%s: %s", path, strerror(errno));
    if (f && fclose(f) != 0 && !rc)
        rc = crun_error_set(err, CRUN_EIO, "%s: %s", path, strerror(errno));
    else if (!f && fd >= 0)
        close(fd);
    if (rc && fd >= 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* A file holding dataset ds for a command to read. */
static int input_file(crun_run *run, size_t ds, crun_call *call, char **out, crun_error *err)
{
    cat_entry *e = &run->catalog.entries[ds];
    if (e->type && !e->in_memory && e->type->filepath) {
        const char *p = e->type->filepath(e->instance);
        if (p && exists(p)) {
            /* the command reads the file itself: hooks see the load without a value */
            int rc = dataset_hook(run, CRUN_HOOK_BEFORE_DATASET_LOADED, ds, call, err);
            if (!rc)
                rc = dataset_hook(run, CRUN_HOOK_AFTER_DATASET_LOADED, ds, call, err);
            if (rc)
                return rc;
            return (*out = strdup(p)) ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
        }
    }
    pthread_mutex_lock(&run->lock);
    char *have = e->scratch ? strdup(e->scratch) : NULL;
    pthread_mutex_unlock(&run->lock);
    if (have) {
        /* the value is in a file already: hooks see the load without a value */
        int rc = dataset_hook(run, CRUN_HOOK_BEFORE_DATASET_LOADED, ds, call, err);
        if (!rc)
            rc = dataset_hook(run, CRUN_HOOK_AFTER_DATASET_LOADED, ds, call, err);
        if (rc) {
            free(have);
            return rc;
        }
        *out = have;
        return 0;
    }
    int rc = run_scratch_dir(run, err);
    if (rc)
        return rc;
    crun_value *v = NULL;
    char *data = NULL, *path = NULL, *name = strdup(e->def->name);
    size_t len = 0;
    if (!name)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    sanitize(name);
    rc = catalog_load(&run->catalog, ds, call ? call->node->name : NULL, call, &v, err);
    json_t *j = !rc ? crun_value_json(v) : NULL;
    if (json_is_object(j) || json_is_array(j)) {
        /* as the json dataset writes it: indented, so line tools can read it;
         * scalars stay bare ("1", not "1\n") */
        char *text = json_dumps(crun_value_json(v), JSON_INDENT(2) | JSON_ENCODE_ANY);
        len = text ? strlen(text) : 0;
        if (text && asprintf(&data, "%s\n", text) >= 0)
            len++;
        else
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        free(text);
    } else if (!rc) {
        rc = crun_value_serialize(v, &data, &len, err);
    }
    if (!rc && asprintf(&path, "%s/in-%zu-%s", run->scratch_dir, ds, name) < 0) {
        path = NULL;
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = write_whole(path, data, len, err);
    if (!rc) {
        pthread_mutex_lock(&run->lock);
        if (!e->scratch)
            e->scratch = strdup(path);
        pthread_mutex_unlock(&run->lock);
        *out = path;
        path = NULL;
    }
    crun_value_unref(v);
    free(data);
    free(path);
    free(name);
    return rc;
}

/* A name no file has, beside target: ".<base>.crun-XXXXXXXX" (random
 * letters and digits), for the command to create.  Nothing is created here:
 * a file made and unlinked only to reserve the name costs three calls, and
 * on ext4 each deleted inode is skipped by every file creation of the next
 * seconds (a chain of thousands of nodes slowed down node after node). */
static int fresh_name(const char *target, char **out, crun_error *err)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const char *slash = strrchr(target, '/');
    int dlen = slash ? (int)(slash - target + 1) : 0;
    for (int tries = 0; tries < 100; tries++) {
        unsigned char rnd[8];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return crun_error_set(err, CRUN_EIO, "no random bytes for a temporary name: %s",
                                  strerror(errno));
        char tag[sizeof(rnd) + 1];
        for (size_t i = 0; i < sizeof(rnd); i++)
            tag[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
        tag[sizeof(rnd)] = '\0';
        if (asprintf(out, "%.*s.%s.crun-%s", dlen, target, target + dlen, tag) < 0) {
            *out = NULL;
            return crun_error_set(err, CRUN_ENOMEM, "out of memory");
        }
        struct stat st;
        bool taken = lstat(*out, &st) == 0;
        if (!taken && errno == ENOENT)
            return 0;
        int rc = taken ? 0 : crun_error_set(err, CRUN_EIO, "%s: %s", *out, strerror(errno));
        free(*out);
        *out = NULL;
        if (rc)
            return rc;
    }
    return crun_error_set(err, CRUN_EIO, "%s: no free temporary name beside it", target);
}

static int output_file(crun_run *run, size_t pn, size_t k, out_file *of, crun_error *err)
{
    const ir_node *node = &run->ir->nodes[run->plan->node[pn]];
    cat_entry *e = &run->catalog.entries[node->out[k].ds];
    const char *target = NULL;
    int rc;
    if (e->type && !e->in_memory && !e->def->versioned && e->type->filepath && e->type->save_file)
        target = e->type->filepath(e->instance);
    if (target) {
        rc = file_saves_mkdir(run->catalog.saves, target, err); /* once per run */
        if (rc)
            return rc;
        if ((rc = fresh_name(target, &of->path, err)))
            return rc;
        of->direct = true;
        return 0;
    }
    rc = run_scratch_dir(run, err);
    if (rc)
        return rc;
    char *name = strdup(node->out[k].arg);
    if (!name)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    sanitize(name);
    if (asprintf(&of->path, "%s/out-%zu-%s", run->scratch_dir, pn, name) < 0)
        of->path = NULL;
    free(name);
    return of->path ? 0 : crun_error_set(err, CRUN_ENOMEM, "out of memory");
}

static const char *port_path(const ir_port *ports, size_t n, char *const *paths, const char *key,
                             size_t klen)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(ports[i].arg) == klen && strncmp(ports[i].arg, key, klen) == 0)
            return paths[i];
    char *end;
    unsigned long idx = strtoul(key, &end, 10);
    return end == key + klen && idx < n ? paths[idx] : NULL;
}

/* Expand {inputs.k}, {outputs.k} and {{ (ir.c checked every name); other
 * braces are literal. */
static char *expand(const char *tmpl, const ir_node *node, char *const *in, char *const *out)
{
    size_t cap = strlen(tmpl) + 64, len = 0;
    char *s = malloc(cap);
    for (const char *p = tmpl; s && *p;) {
        const char *piece = p, *field, *end;
        size_t plen = 1, flen;
        if (p[0] == '{' && p[1] == '{') {
            p += 2;
        } else if (ir_placeholder(p, &field, &flen, &end)) {
            bool is_in = strncmp(field, "inputs.", 7) == 0;
            const char *key = field + (is_in ? 7 : 8);
            size_t klen = flen - (size_t)(key - field);
            piece = is_in ? port_path(node->in, node->n_in, in, key, klen)
                          : port_path(node->out, node->n_out, out, key, klen);
            piece = piece ? piece : "";
            plen = strlen(piece);
            p = end;
        } else {
            p++;
        }
        if (len + plen + 1 > cap) {
            cap = (len + plen + 1) * 2;
            char *g = realloc(s, cap);
            if (!g) {
                free(s);
                return NULL;
            }
            s = g;
        }
        memcpy(s + len, piece, plen);
        len += plen;
    }
    if (s)
        s[len] = '\0';
    return s;
}

static int make_env(crun_run *run, const ir_node *node, cmd_state *st)
{
    char *const *base = run->shared->environ;
    size_t n = 0;
    while (base && base[n])
        n++;
    st->envp = calloc(n + 4, sizeof(char *));
    if (!st->envp ||
        asprintf(&st->env_own[0], "CRUN_NODE=%s", node->name) < 0 ||
        asprintf(&st->env_own[1], "CRUN_RUN_ID=%s", run->run_id) < 0 ||
        asprintf(&st->env_own[2], "CRUN_ENV=%s", run->ir->env) < 0)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(base[i], "CRUN_NODE=", 10) != 0 && strncmp(base[i], "CRUN_RUN_ID=", 12) != 0 &&
            strncmp(base[i], "CRUN_ENV=", 9) != 0)
            st->envp[k++] = base[i];
    for (size_t i = 0; i < 3; i++)
        st->envp[k++] = st->env_own[i];
    return 0;
}

static int prepare(crun_run *run, size_t pn, crun_call *call, cmd_state **out, crun_error *err)
{
    const ir_node *node = &run->ir->nodes[run->plan->node[pn]];
    cmd_state *st = calloc(1, sizeof(*st));
    char **in = calloc(node->n_in + 1, sizeof(char *));
    char **outp = calloc(node->n_out + 1, sizeof(char *));
    int rc = 0;
    if (!st || !in || !outp || !(st->outs = calloc(node->n_out + 1, sizeof(out_file))) ||
        !(st->argv = calloc(node->argc + 1, sizeof(char *))))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (st)
        st->n_outs = rc ? 0 : node->n_out;
    for (size_t i = 0; i < node->n_in && !rc; i++)
        rc = input_file(run, node->in[i].ds, call, &in[i], err);
    for (size_t i = 0; i < node->n_out && !rc; i++) {
        rc = output_file(run, pn, i, &st->outs[i], err);
        outp[i] = st->outs[i].path;
    }
    for (size_t i = 0; i < node->argc && !rc; i++) {
        if (!(st->argv[i] = expand(node->argv[i], node, in, outp)))
            rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
        st->argc = i + 1;
    }
    if (!rc && make_env(run, node, st) != 0)
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    for (size_t i = 0; in && i < node->n_in; i++)
        free(in[i]);
    free(in);
    free(outp);
    if (rc) {
        command_state_free(st);
        return rc;
    }
    st->cmd.size = sizeof(st->cmd);
    st->cmd.argv = st->argv;
    st->cmd.envp = st->envp;
    st->cmd.cwd = run->ir->dir;
    *out = st;
    return 0;
}

/* The node ended with rc (not 0): on_node_error, its inputs consumed, and the
 * error made the node's, as crun_run_execute reports it.  A runner calls
 * nothing more for the node, whichever step failed. */
static int node_failed(crun_run *run, crun_call *call, int rc, crun_error *err)
{
    const ir_node *node = call->node;
    if (rc != CRUN_EHOOK && rc != CRUN_ECANCELED && !crun_run_cancelled(run) &&
        run_has_hooks(run)) {
        crun_hook_event ev = {.node = node->name, .call = call, .error = err, .status = rc,
                              .attempt = call->attempt};
        crun_error herr = CRUN_ERROR_INIT;
        if (run_hooks_fire(run, CRUN_HOOK_ON_NODE_ERROR, &ev, &herr) != 0)
            crun_error_move(err, &herr);
        crun_error_clear(&herr);
    }
    for (size_t i = 0; i < node->n_in; i++)
        catalog_consumed(&run->catalog, node->in[i].ds);
    crun_error_prefix(err, "node '%s': ", node->name);
    /* a missing input file is the node's failure (exit 1), not a config error */
    if (rc != CRUN_ECANCELED && rc != CRUN_EHOOK && rc != CRUN_ENOMEM)
        err->code = rc = CRUN_ENODE;
    return rc;
}

/* The prepared command into the caller's struct, as far as its size goes. */
static void command_out(crun_command *dst, const crun_command *full)
{
    uint32_t size = dst->size;
    memcpy(dst, full, size < sizeof(*full) ? size : sizeof(*full));
    dst->size = size;
}

int crun_run_command_prepare(crun_run *run, size_t pn, crun_command *cmd, crun_error *err)
{
    crun_command known = CRUN_COMMAND_INIT;
    if (!cmd)
        return crun_error_set(err, CRUN_EINVAL, "crun_run_command_prepare: no crun_command");
    if (abi_struct_in(&known, sizeof(known), cmd, "crun_command", err) != 0)
        return err->code; /* a caller's mistake: nothing of the node was done */
    cmd_state *st;
    const ir_node *node = &run->ir->nodes[run->plan->node[pn]];
    crun_call call = {.run = run, .pnode = pn, .node = node, .err = err, .attempt = 1};
    int rc = prepare(run, pn, &call, &st, err);
    if (!rc && (rc = command_hooks(run, CRUN_HOOK_BEFORE_NODE_RUN, &call, err)))
        command_state_free(st);
    if (rc)
        return node_failed(run, &call, rc, err);
    pthread_mutex_lock(&run->lock);
    command_state_free(run->cmds[pn]);
    run->cmds[pn] = st;
    pthread_mutex_unlock(&run->lock);
    command_out(cmd, &st->cmd);
    return 0;
}

void crun_run_command_output(crun_run *run, size_t pn, const char *data, size_t len)
{
    const char *name = crun_run_node_name(run, pn);
    logger_write(run->logger, CRUN_LOG_INFO, name, "%.*s", (int)len, data);
}

static int describe_status(int status, crun_error *err)
{
    if (status == -1)
        return crun_error_set(err, CRUN_ENODE, "the command could not be started");
    if (WIFEXITED(status))
        return crun_error_set(err, CRUN_ENODE, "the command exited with status %d",
                              WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return crun_error_set(err, CRUN_ENODE, "the command was killed by signal %d (%s)",
                              WTERMSIG(status), strsignal(WTERMSIG(status)));
    return crun_error_set(err, CRUN_ENODE, "the command ended with wait status %d", status);
}

/* After the command: every output written, after_node_run, then the saves
 * (Kedro's order, as for function nodes). */
static int finish(crun_run *run, size_t pn, cmd_state *st, crun_call *call, int status,
                  crun_error *err)
{
    const ir_node *node = &run->ir->nodes[run->plan->node[pn]];
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return describe_status(status, err);
    for (size_t i = 0; i < node->n_out; i++) {
        out_file *of = &st->outs[i];
        if (!exists(of->path))
            return crun_error_set(err, CRUN_ENODE, "the command did not write {outputs.%s} (%s)",
                                  node->out[i].arg, of->path);
    }
    int rc = command_hooks(run, CRUN_HOOK_AFTER_NODE_RUN, call, err);
    for (size_t i = 0; i < node->n_out && !rc; i++) {
        out_file *of = &st->outs[i];
        size_t ds = node->out[i].ds;
        cat_entry *e = &run->catalog.entries[ds];
        if (of->direct) {
            rc = dataset_hook(run, CRUN_HOOK_BEFORE_DATASET_SAVED, ds, call, err);
            if (!rc)
                rc = e->type->save_file(e->instance, of->path, err);
            if (!rc) { /* renamed into place: nothing is left to clean up */
                free(of->path);
                of->path = NULL;
                rc = dataset_hook(run, CRUN_HOOK_AFTER_DATASET_SAVED, ds, call, err);
            }
            continue;
        }
        char *data;
        size_t len;
        if ((rc = crun_file_read(of->path, &data, &len, err)))
            break;
        crun_value *v = crun_value_bytes_take(data, len, "application/octet-stream");
        rc = v ? catalog_save(&run->catalog, ds, call->node->name, call, v, err)
               : crun_error_set(err, CRUN_ENOMEM, "oom");
        crun_value_unref(v);
        /* the file holds the value byte for byte: commands that read it use this
         * one instead of a copy (one file per edge fewer; the folder goes at the end) */
        pthread_mutex_lock(&run->lock);
        if (!rc && e->in_memory && !e->scratch) {
            e->scratch = of->path;
            of->path = NULL;
        }
        pthread_mutex_unlock(&run->lock);
    }
    return rc;
}

int crun_run_command_finish(crun_run *run, size_t pn, int status, crun_error *err)
{
    pthread_mutex_lock(&run->lock);
    cmd_state *st = run->cmds[pn];
    run->cmds[pn] = NULL;
    pthread_mutex_unlock(&run->lock);
    if (!st)
        return crun_error_set(err, CRUN_EINVAL, "node '%s': no command was prepared",
                              crun_run_node_name(run, pn));
    const ir_node *node = &run->ir->nodes[run->plan->node[pn]];
    crun_call call = {.run = run, .pnode = pn, .node = node, .err = err, .attempt = 1,
                      .status = status};
    int rc = finish(run, pn, st, &call, status, err);
    command_state_free(st);
    /* a node with a retry: its next attempts run here, as crun_run_execute's */
    while (rc && node->retry && run_retry(run, &call, &rc, err))
        rc = command_execute(run, pn, &call, err);
    if (rc)
        return node_failed(run, &call, rc, err);
    for (size_t i = 0; i < node->n_in; i++)
        catalog_consumed(&run->catalog, node->in[i].ds);
    incr_node_done(run, pn);
    return 0;
}

/* --- running a command to completion on the calling thread --- */

typedef struct output_to {
    crun_run *run;
    size_t pn;
} output_to;

static void log_lines(void *user, const char *text, size_t len)
{
    output_to *o = user;
    logger_write_lines(o->run->logger, CRUN_LOG_INFO,
                       crun_run_node_name(o->run, o->pn), text, len);
}

int command_execute(crun_run *run, size_t pn, crun_call *call, crun_error *err)
{
    cmd_state *st;
    int rc = prepare(run, pn, call, &st, err);
    if (rc)
        return rc;
    /* a command has no loaded inputs to show or replace */
    crun_value **inputs = call->inputs;
    call->inputs = NULL;
    rc = command_hooks(run, CRUN_HOOK_BEFORE_NODE_RUN, call, err);
    int fd = -1;
    pid_t pid = 0;
    proc_spec spec = {.argv = st->argv, .envp = st->envp, .cwd = st->cmd.cwd, .out_fd = -1,
                      .track = true};
    if (!rc)
        rc = proc_spawn(run, &spec, &pid, &fd, err);
    if (!rc) {
        output_to o = {run, pn};
        proc_follow(run, pid, fd, log_lines, &o);
        int status = proc_reap(run, pid, crun_run_node_name(run, pn));
        call->status = status;
        if (crun_run_cancelled(run))
            rc = crun_error_set(err, CRUN_ECANCELED, "cancelled");
        else
            rc = finish(run, pn, st, call, status, err);
    }
    call->inputs = inputs;
    command_state_free(st);
    return rc;
}
