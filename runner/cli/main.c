/* main.c - the crun program: parse the command line, open a session, act.
 *
 * All the work lives in libcrun; this file maps the command line onto
 * crun_session_* calls, prints results, and owns the process-wide things a
 * library must not: signal handling (a thread waits for SIGINT/SIGTERM from
 * before the project loads: the load asks it whether to stop, and once the
 * session is open it cancels the session's runs; a run that has not
 * returned within its grace period after that is abandoned, naming its
 * stuck nodes, and crun exits 130) and the exit status:
 *   0 success, 1 the pipeline failed, 2 usage or configuration error,
 *   130 interrupted.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "crun/crun.h"

static const char usage_text[] =
    "usage: crun [run] [options]          run a pipeline\n"
    "       crun status [options]             which nodes --only-changed would run, and why\n"
    "       crun compile [options] [-o FILE]  print the pipeline's IR as JSON\n"
    "       crun list pipelines|nodes|datasets|runners|plugins|hooks [--json]\n"
    "       crun plugin info FILE.so [--json]\n"
    "       crun catalog describe DATASET [--json]\n"
    "       crun catalog list [--pipeline P] [--json]  each pipeline's datasets\n"
    "       crun catalog show DATASET [--head N]  a dataset's value (a table's first rows)\n"
    "       crun registry list [--json]       the pipelines (as crun list pipelines)\n"
    "       crun export argo [options] [-o FILE]  the pipeline as an Argo Workflow\n"
    "       crun export cwl [--image IMG] [-o DIR]  a CWL v1.2 Workflow (default DIR: cwl)\n"
    "       crun export kfp [options] [-o FILE]   a Kubeflow Pipelines v2 PipelineSpec\n"
    "       crun viz [--format dot|mermaid|html] [--events FILE] [-o FILE]\n"
    "       crun viz --serve [--port N] [--events FILE]  the page, live, on 127.0.0.1\n"
    "       crun new NAME                     a new project with a C node library\n"
    "       crun new --runner NAME | --hook NAME | --dataset NAME  a plugin project\n"
    "       crun pipeline create NAME         a new pipeline and its node source file\n"
    "       crun --help | --version\n"
    "\n"
    "options:\n"
    "  --project DIR         the project folder (default: the current folder)\n"
    "  --conf-source DIR     the configuration folder (default: <project>/conf)\n"
    "  --env ENV             configuration environment (default: crun.ini's, else local)\n"
    "  --runner NAME         a runner of runner.yml, a runner plugin name, or a .so path\n"
    "  --runner-opt K=V      override one runner option (repeatable)\n"
    "  --runner-params K=V,K2=V2  several at once (Kedro's spelling)\n"
    "  --pipeline P          the pipeline to run (default: __default__)\n"
    "  --tags a,b            only nodes with any of these tags\n"
    "  --nodes a,b           only these nodes (--node NAME: one node; also\n"
    "                        CRUN_SELECT_NODE=NAME in the environment of crun run)\n"
    "  --input D=PATH        read catalog dataset D from PATH this run (repeatable)\n"
    "  --output D=PATH       write catalog dataset D to PATH this run (repeatable)\n"
    "  --from-nodes a,b      these nodes and everything downstream\n"
    "  --to-nodes a,b        these nodes and everything upstream\n"
    "  --from-inputs d       nodes downstream of these datasets\n"
    "  --to-outputs d        nodes needed to produce these datasets\n"
    "  --params k=v,...      override parameters (a.b=1,c=text)\n"
    "  --load-versions d:v   load this version of a versioned dataset\n"
    "  --ir FILE             run a compiled IR instead of conf/\n"
    "  --run-id ID           use this run id (letters, digits, . _ -)\n"
    "  -m KEY=SWEEP          sweep a parameter through the chosen runner (repeatable):\n"
    "                        -m a.b=0.1,0.2  -m c=range(1,4)  -m d=choice(x,y)\n"
    "  --resume SWEEP_ID     run again only the trials of a sweep that did not succeed\n"
    "  --only-missing-outputs  skip nodes whose outputs exist (Kedro's rule)\n"
    "  --only-changed        also rerun nodes whose code, parameters, inputs or outputs\n"
    "                        changed since their outputs were saved\n"
    "  --dry-run             print each node as run or skip, with the reason; run nothing\n"
    "  --durability LEVEL    when saved files reach the disk: none, run (default:\n"
    "                        synced once at the end) or node (before dependents start)\n"
    "  -q, --quiet           only errors on stderr;  -v, --verbose  debug output\n"
    "\n"
    "export argo: --image IMG (crun:latest)  --cpu Q (1)  --memory Q (1Gi)\n"
    "  --workdir DIR (/work)  --pvc CLAIM (mount a volume there)  --format yaml|json\n"
    "export kfp: --image, --cpu, --memory, --workdir (the project in the image), --format\n"
    "viz: --format dot|mermaid|html (default from -o's extension, else dot)\n"
    "  --events FILE (a run's events.jsonl, html only)  --serve [--port N] (0: any free)\n"
    "\n"
    "exit status: 0 success, 1 the pipeline failed, 2 usage or configuration error,\n"
    "130 interrupted\n";

int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "crun: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see crun --help)\n");
    return EXIT_USAGE;
}

enum {
    OPT_ENV = 256, OPT_RUNNER, OPT_RUNNER_OPT, OPT_PIPELINE, OPT_TAGS, OPT_NODES, OPT_NODE,
    OPT_FROM_NODES, OPT_TO_NODES, OPT_FROM_INPUTS, OPT_TO_OUTPUTS, OPT_PARAMS, OPT_LOAD_VERSIONS,
    OPT_PROJECT, OPT_IR, OPT_RUN_ID, OPT_RESUME, OPT_JSON, OPT_VERSION,
    OPT_FORMAT, OPT_IMAGE, OPT_EVENTS, OPT_SERVE, OPT_PORT, OPT_CPU, OPT_MEMORY, OPT_WORKDIR, OPT_PVC, OPT_DURABILITY,
    OPT_INPUT, OPT_OUTPUT, OPT_ONLY_MISSING, OPT_ONLY_CHANGED, OPT_DRY_RUN,
    OPT_RUNNER_PARAMS, OPT_HEAD, OPT_HOOK, OPT_DATASET, OPT_CONF_SOURCE
};

static const struct option long_options[] = {
    {"env", required_argument, NULL, OPT_ENV},
    {"runner", required_argument, NULL, OPT_RUNNER},
    {"runner-opt", required_argument, NULL, OPT_RUNNER_OPT},
    {"runner-params", required_argument, NULL, OPT_RUNNER_PARAMS},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"tags", required_argument, NULL, OPT_TAGS},
    {"nodes", required_argument, NULL, OPT_NODES},
    {"node", required_argument, NULL, OPT_NODE},
    {"from-nodes", required_argument, NULL, OPT_FROM_NODES},
    {"to-nodes", required_argument, NULL, OPT_TO_NODES},
    {"from-inputs", required_argument, NULL, OPT_FROM_INPUTS},
    {"to-outputs", required_argument, NULL, OPT_TO_OUTPUTS},
    {"params", required_argument, NULL, OPT_PARAMS},
    {"load-versions", required_argument, NULL, OPT_LOAD_VERSIONS},
    {"project", required_argument, NULL, OPT_PROJECT},
    {"ir", required_argument, NULL, OPT_IR},
    {"run-id", required_argument, NULL, OPT_RUN_ID},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"multirun", required_argument, NULL, 'm'},
    {"durability", required_argument, NULL, OPT_DURABILITY},
    {"input", required_argument, NULL, OPT_INPUT},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"only-missing-outputs", no_argument, NULL, OPT_ONLY_MISSING},
    {"only-changed", no_argument, NULL, OPT_ONLY_CHANGED},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"json", no_argument, NULL, OPT_JSON},
    {"head", required_argument, NULL, OPT_HEAD},
    {"hook", required_argument, NULL, OPT_HOOK},
    {"dataset", required_argument, NULL, OPT_DATASET},
    {"conf-source", required_argument, NULL, OPT_CONF_SOURCE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"image", required_argument, NULL, OPT_IMAGE},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"serve", no_argument, NULL, OPT_SERVE},
    {"port", required_argument, NULL, OPT_PORT},
    {"cpu", required_argument, NULL, OPT_CPU},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"workdir", required_argument, NULL, OPT_WORKDIR},
    {"pvc", required_argument, NULL, OPT_PVC},
    {"output", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Append line to *text ("a\nb"); returns 0 or EXIT_USAGE. */
static int add_line(char **text, const char *line)
{
    char *grown = NULL;
    if (asprintf(&grown, "%s%s%s", *text ? *text : "", *text ? "\n" : "", line) < 0)
        return usage_error("%s", "out of memory");
    free(*text);
    *text = grown;
    return 0;
}

static int add_runner_opt(cli *c, const char *opt);

/* --runner-params a=1,b=2: each K=V a --runner-opt (a comma starts the next
 * one only when K= follows it, so values may hold commas). */
static int add_runner_params(cli *c, const char *arg)
{
    char **kept = realloc(c->owned, (c->n_owned + 1) * sizeof(char *));
    if (!kept)
        return usage_error("%s", "out of memory");
    c->owned = kept;
    char *copy = kept[c->n_owned] = strdup(arg);
    if (!copy)
        return usage_error("%s", "out of memory");
    c->n_owned++;
    for (char *p = copy; p;) {
        char *next = NULL;
        for (char *q = strchr(p, ','); q && !next; q = strchr(q + 1, ','))
            if (memchr(q + 1, '=', strcspn(q + 1, ",")))
                next = q;
        if (next)
            *next++ = '\0';
        if (!strchr(p, '=') || p[0] == '=')
            return usage_error("--runner-params: expected KEY=VALUE[,KEY=VALUE...], got '%s'", p);
        int rc = add_runner_opt(c, p);
        if (rc)
            return rc;
        p = next;
    }
    return 0;
}

static int add_runner_opt(cli *c, const char *opt)
{
    const char **r = realloc(c->runner_opts, (c->n_runner_opts + 2) * sizeof(char *));
    if (!r)
        return usage_error("%s", "out of memory");
    c->runner_opts = r;
    r[c->n_runner_opts++] = opt;
    r[c->n_runner_opts] = NULL;
    return 0;
}

/* -m makes the run a sweep (the sweep plugin) over the runner asked for;
 * -m and --resume reach the sweep as its options m and resume. */
static int sweep_options(cli *c)
{
    int rc = 0;
    if (c->sweeps) {
        if (asprintf(&c->sweep_opts[0], "m=%s", c->sweeps) < 0 ||
            asprintf(&c->sweep_opts[1], "runner=%s", c->ro.runner ? c->ro.runner : "") < 0)
            return usage_error("%s", "out of memory");
        c->ro.runner = "sweep";
        rc = add_runner_opt(c, c->sweep_opts[0]);
        if (!rc)
            rc = add_runner_opt(c, c->sweep_opts[1]);
    }
    if (!rc && c->resume) {
        if (asprintf(&c->sweep_opts[2], "resume=%s", c->resume) < 0)
            return usage_error("%s", "out of memory");
        rc = add_runner_opt(c, c->sweep_opts[2]);
    }
    c->ro.runner_opts = c->runner_opts;
    return rc;
}

/* --input/--output D=PATH: a PATH relative to the current folder becomes
 * absolute (libcrun reads relative paths against the project folder). */
static int add_path(cli *c, bool input, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return usage_error(input ? "--input '%s': expected DATASET=PATH"
                                 : "--output '%s': expected DATASET=PATH", arg);
    char cwd[PATH_MAX], *item = NULL;
    if (eq[1] != '/' && !getcwd(cwd, sizeof(cwd)))
        return usage_error("%s", "cannot read the current folder");
    if (asprintf(&item, "%.*s=%s%s%s", (int)(eq - arg), arg, eq[1] == '/' ? "" : cwd,
                 eq[1] == '/' ? "" : "/", eq + 1) < 0)
        return usage_error("%s", "out of memory");
    char ***list = input ? &c->input_paths : &c->output_paths;
    size_t n = 0;
    while (*list && (*list)[n])
        n++;
    char **grown = realloc(*list, (n + 2) * sizeof(char *));
    if (!grown) {
        free(item);
        return usage_error("%s", "out of memory");
    }
    grown[n] = item;
    grown[n + 1] = NULL;
    *list = grown;
    return 0;
}

static void free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

static void cli_free(cli *c)
{
    free_list(c->input_paths);
    free_list(c->output_paths);
    for (size_t i = 0; i < c->n_owned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->runner_opts);
    free(c->selected_node);
    free(c->sweeps);
    for (size_t i = 0; i < 3; i++)
        free(c->sweep_opts[i]);
}

static int parse_option(cli *c, int opt, const char *arg)
{
    crun_filter *f = &c->filter;
    switch (opt) {
    case OPT_ENV: c->so.env = arg; break;
    case OPT_RUNNER: c->ro.runner = arg; break;
    case OPT_RUNNER_OPT: return add_runner_opt(c, arg);
    case OPT_RUNNER_PARAMS: return add_runner_params(c, arg);
    case OPT_PIPELINE: f->pipeline = arg; break;
    case OPT_TAGS: f->tags = arg; break;
    case OPT_NODES: f->nodes = arg; break;
    case OPT_NODE:
        if (strchr(arg, ','))
            return usage_error("--node takes one node name, got '%s' (use --nodes for several)", arg);
        f->nodes = arg;
        break;
    case OPT_FROM_NODES: f->from_nodes = arg; break;
    case OPT_TO_NODES: f->to_nodes = arg; break;
    case OPT_FROM_INPUTS: f->from_inputs = arg; break;
    case OPT_TO_OUTPUTS: f->to_outputs = arg; break;
    case OPT_PARAMS: c->so.params = arg; break;
    case OPT_LOAD_VERSIONS: c->ro.load_versions = arg; break;
    case OPT_PROJECT: c->so.project_dir = arg; break;
    case OPT_IR: c->so.ir_file = arg; break;
    case OPT_RUN_ID: c->ro.run_id = arg; break;
    case OPT_RESUME: c->resume = arg; break;
    case 'm':
        if (!strchr(arg, '=') || arg[0] == '=')
            return usage_error("-m '%s': expected KEY=SWEEP (model_options.alpha=0.1,0.5)", arg);
        return add_line(&c->sweeps, arg);
    case OPT_DURABILITY:
        c->ro.durability = !strcmp(arg, "none")   ? CRUN_DURABILITY_NONE
                           : !strcmp(arg, "run")  ? CRUN_DURABILITY_RUN
                           : !strcmp(arg, "node") ? CRUN_DURABILITY_NODE : -1;
        if (c->ro.durability < 0)
            return usage_error("--durability: expected none, run or node, got '%s'", arg);
        break;
    case OPT_INPUT: return add_path(c, true, arg);
    case OPT_OUTPUT: return add_path(c, false, arg);
    case OPT_ONLY_MISSING:
    case OPT_ONLY_CHANGED: {
        int mode = opt == OPT_ONLY_MISSING ? CRUN_INCREMENTAL_MISSING_OUTPUTS
                                           : CRUN_INCREMENTAL_CHANGED;
        if (c->ro.incremental && c->ro.incremental != mode)
            return usage_error("%s", "--only-missing-outputs and --only-changed exclude each "
                               "other");
        c->ro.incremental = mode;
        break;
    }
    case OPT_DRY_RUN: c->ro.dry_run = true; break;
    case OPT_JSON: c->json = true; break;
    case OPT_HEAD: c->head = arg; break;
    case OPT_HOOK: c->new_hook = arg; break;
    case OPT_DATASET: c->new_dataset = arg; break;
    case OPT_CONF_SOURCE: c->so.conf_source = arg; break;
    case OPT_FORMAT: c->format = arg; break;
    case OPT_IMAGE: c->image = arg; break;
    case OPT_EVENTS: c->events = arg; break;
    case OPT_SERVE: c->serve = true; break;
    case OPT_PORT: c->port = arg; break;
    case OPT_CPU: c->cpu = arg; break;
    case OPT_MEMORY: c->memory = arg; break;
    case OPT_WORKDIR: c->workdir = arg; break;
    case OPT_PVC: c->pvc = arg; break;
    case 'o': c->output = arg; break;
    case 'q': c->quiet = true; break;
    case 'v': c->verbose++; break;
    default: return EXIT_USAGE;
    }
    return 0;
}

/* CRUN_SELECT_NODE=NAME is `crun run --node NAME` for engines that choose
 * the node through the environment of one container image (the command
 * line wins).  Not CRUN_NODE: command nodes get that one, and a command
 * node running crun must not select a node by accident.  It is removed
 * from the environment once read, so that no child process inherits it. */
static int select_node(cli *c)
{
    const char *env = getenv(CRUN_SELECT_NODE);
    char *name = env && env[0] ? strdup(env) : NULL;
    unsetenv(CRUN_SELECT_NODE);
    int rc = 0;
    if (name && strcmp(c->command, "run") == 0 && !c->filter.nodes) {
        if (strchr(name, ','))
            rc = usage_error(CRUN_SELECT_NODE " takes one node name, got '%s'", name);
        c->filter.nodes = c->selected_node = name;
        name = NULL;
    }
    free(name);
    return rc;
}

static const char *const commands[] = {"run", "status", "compile", "list", "plugin",
                                         "catalog", "export", "viz", "new", "registry",
                                         "pipeline", NULL};

/* An option getopt refused: unknown (with the closest option) or lacking its value. */
static int bad_option(const char *arg, bool unknown)
{
    if (!unknown)
        return usage_error("option needs a value or is unknown: %s", arg);
    const char *names[sizeof(long_options) / sizeof(long_options[0])];
    size_t n = 0;
    for (const struct option *o = long_options; o->name; o++)
        names[n++] = o->name;
    const char *word = arg + strspn(arg, "-");
    char *bare = strndup(word, strcspn(word, "="));
    const char *best = bare ? crun_suggest(bare, names, n) : NULL;
    free(bare);
    if (!best)
        return usage_error("unknown option: %s", arg);
    fprintf(stderr, "crun: error: unknown option: %s (did you mean '--%s'?)\n(see crun --help)\n",
            arg, best);
    return EXIT_USAGE;
}

/* The words that are not options, in order (getopt moved them to the end):
 * the command first (`crun -q catalog describe x` as well as `crun catalog
 * -q describe x`), then its arguments. */
static int take_words(cli *c, int argc, char **argv)
{
    for (int i = optind; i < argc; i++) {
        const char *w = argv[i];
        if (i == optind) {
            bool known = false;
            for (size_t k = 0; commands[k]; k++)
                known = known || strcmp(w, commands[k]) == 0;
            if (known) {
                c->command = w;
                continue;
            }
            const char *best = crun_suggest(w, commands, sizeof(commands) / sizeof(*commands) - 1);
            if (!best)
                return usage_error("unknown command '%s'", w);
            fprintf(stderr, "crun: error: unknown command '%s' (did you mean '%s'?)\n"
                    "(see crun --help)\n", w, best);
            return EXIT_USAGE;
        }
        if (!c->what)
            c->what = w;
        else if (!c->what2)
            c->what2 = w;
        else
            return usage_error("unexpected argument '%s'", w);
    }
    return 0;
}

static int parse_args(cli *c, int argc, char **argv)
{
    c->command = "run";
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "o:qvhm:", long_options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            exit(EXIT_OK);
        }
        if (opt == OPT_VERSION) {
            printf("crun %s (plugin ABI %d.%d)\n", crun_version(), CRUN_ABI_MAJOR, CRUN_ABI_MINOR);
            exit(EXIT_OK);
        }
        if (opt == '?' || opt == ':')
            return bad_option(argv[optind - 1], optopt == 0);
        int rc = parse_option(c, opt, optarg);
        if (rc)
            return rc;
    }
    int rc = take_words(c, argc, argv);
    if (rc)
        return rc;
    if ((strcmp(c->command, "run") == 0 || strcmp(c->command, "status") == 0) && c->what)
        return usage_error("unexpected argument '%s'", c->what);
    rc = select_node(c);
    if (rc)
        return rc;
    if (strcmp(c->command, "status") == 0) { /* dvc status: what --only-changed would do */
        if (c->ro.incremental == CRUN_INCREMENTAL_MISSING_OUTPUTS)
            return usage_error("%s", "crun status: --only-missing-outputs does not apply "
                                     "(status is what --only-changed would run)");
        c->ro.incremental = CRUN_INCREMENTAL_CHANGED;
        c->ro.dry_run = true;
    }
    c->ro.filter = &c->filter;
    c->ro.input_paths = (const char *const *)c->input_paths;
    c->ro.output_paths = (const char *const *)c->output_paths;
    return sweep_options(c);
}

static int exit_status(int code)
{
    switch (code) {
    case CRUN_OK: return EXIT_OK;
    case CRUN_ECANCELED: return EXIT_INTERRUPTED;
    case CRUN_ENODE: case CRUN_EHOOK: case CRUN_EIO: case CRUN_EDATA: case CRUN_ENOMEM:
        return EXIT_FAILED;
    default: return EXIT_USAGE;
    }
}

int report(crun_error *err)
{
    fprintf(stderr, "crun: error: %s\n", err->message ? err->message : crun_strerror(err->code));
    return exit_status(err->code);
}

/* The plugins a binary in the build tree should use are the tree's own; an
 * installed one uses those installed beside it (<prefix>/bin/../lib/.../crun,
 * so a moved or --destdir prefix works), else the configured folder. */
static const char *builtin_plugin_dir(char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return CRUN_INSTALL_PLUGIN_DIR;
    exe[n] = '\0';
    const char *dir = dirname(exe);
    if (strcmp(dir, CRUN_BUILD_EXE_DIR) == 0)
        return CRUN_BUILD_PLUGIN_DIRS;
    struct stat st;
    int len = snprintf(buf, size, "%s/%s", dir, CRUN_PLUGIN_DIR_FROM_BIN);
    if (len > 0 && (size_t)len < size && CRUN_PLUGIN_DIR_FROM_BIN[0] != '/' &&
        stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
        return buf;
    return CRUN_INSTALL_PLUGIN_DIR;
}

/* --- signals: a thread turns SIGINT/SIGTERM into crun_session_cancel --- */

/* After the grace period, how long a cancelled run still gets to return
 * (its commands were SIGKILLed then: what is left is its own cleanup). */
static const double STOP_MARGIN_S = 2.0;

typedef struct signal_watch {
    pthread_t thread;
    sigset_t set;
    _Atomic(crun_session *) session; /* NULL while the project loads */
    atomic_int got;
    atomic_bool done;                /* the command returned: nothing to abandon */
} signal_watch;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How long after the first signal the command may still take: the grace
 * period of the runs going on (a runner's own, such as parallel's or the
 * service's), then the margin. */
static double stop_bound(signal_watch *w)
{
    crun_session *s = atomic_load(&w->session);
    return (s ? crun_session_grace_period(s) : 5.0) + STOP_MARGIN_S;
}

/* The run was cancelled and has not returned within its bound: a node
 * ignores cancellation (a function node stuck in a call: no thread can be
 * stopped).  Say which, and exit without it: its commands were SIGKILLed
 * after the grace period (and the session's guard kills any left when crun
 * ends), saves are atomic, and what it leaves (its scratch folder, a save's
 * temporary file) the next run cleans. */
static void abandon(signal_watch *w, double bound)
{
    if (atomic_load(&w->done))
        return;
    crun_session *s = atomic_load(&w->session);
    const char *names[16];
    size_t n = s ? crun_session_calling_nodes(s, names, 16) : 0;
    /* one write(2), no stdio: the stuck node may hold stderr's lock */
    char msg[2048];
    int len = snprintf(msg, sizeof(msg), "crun: error: interrupted: ");
    for (size_t i = 0; i < n && i < 16; i++)
        len += snprintf(msg + len, sizeof(msg) - (size_t)len, "%s'%.100s'",
                        i ? ", " : n == 1 ? "node " : "nodes ", names[i]);
    if (n > 16)
        len += snprintf(msg + len, sizeof(msg) - (size_t)len, " and %zu more", n - 16);
    if (n)
        len += snprintf(msg + len, sizeof(msg) - (size_t)len, " did not return %g s after the "
                        "interrupt (a function node that does not check crun_call_cancelled): "
                        "abandoning %s\n", bound, n == 1 ? "it" : "them");
    else
        len += snprintf(msg + len, sizeof(msg) - (size_t)len, "%s did not stop %g s after the "
                        "interrupt: abandoning it\n", s ? "the run" : "loading the project",
                        bound);
    len += snprintf(msg + len, sizeof(msg) - (size_t)len,
                    "crun: exiting without it; the next run cleans what it left\n");
    if (write(STDERR_FILENO, msg, (size_t)len) < 0)
        len = 0; /* nothing more to say it with */
    _exit(EXIT_INTERRUPTED);
}

/* The next signal; after the first, at most until the bound is over
 * (0 then, and the command is abandoned unless it returned). */
static int next_signal(signal_watch *w, double since)
{
    int sig = 0;
    double bound = since ? stop_bound(w) : 0;
    if (!since || !isfinite(bound) || atomic_load(&w->done))
        return sigwait(&w->set, &sig) == 0 ? sig : SIGUSR1;
    double left = since + bound - mono_now();
    if (left <= 0) {
        abandon(w, bound);
        return sigwait(&w->set, &sig) == 0 ? sig : SIGUSR1;
    }
    struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
    sig = sigtimedwait(&w->set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

static void *watch_signals(void *arg)
{
    signal_watch *w = arg;
    double since = 0;
    for (;;) {
        int sig = next_signal(w, since);
        if (sig == SIGUSR1)
            return NULL;
        if (!sig)
            continue;
        if (!since)
            since = mono_now();
        atomic_store(&w->got, sig);
        crun_session *s = atomic_load(&w->session);
        if (s)
            crun_session_cancel(s);
    }
}

/* crun_session_open's question while it loads the project: is SIGINT or
 * SIGTERM pending?  Blocked in every thread, they wait there for the
 * watcher, which starts only after the load: once a process has a second
 * thread, glibc's malloc and stdio take locks on every call for good, a
 * third of a 100,000-node `run --ir` (getc) and 4% more (malloc). */
static bool signalled(void *user)
{
    (void)user;
    sigset_t pending;
    return sigpending(&pending) == 0 &&
           (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1);
}


static int do_compile(cli *c, crun_session *s, crun_error *err)
{
    json_t *ir;
    int rc = crun_session_compile(s, &c->filter, &ir, err);
    if (rc)
        return report(err);
    char *text = json_dumps(ir, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(ir);
    if (!text)
        return report(err);
    size_t len = strlen(text);
    text[len] = '\0';
    if (c->output) {
        char *with_nl = NULL;
        if (asprintf(&with_nl, "%s\n", text) < 0)
            with_nl = NULL;
        rc = with_nl ? crun_file_write_atomic(c->output, with_nl, len + 1, err) : CRUN_ENOMEM;
        free(with_nl);
    } else {
        puts(text);
    }
    free(text);
    return rc ? report(err) : EXIT_OK;
}

static void print_list(const char *what, json_t *items)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *name = json_string_value(json_object_get(it, "name"));
        if (strcmp(what, "pipelines") == 0)
            printf("%-30s %lld nodes\n", name,
                   (long long)json_integer_value(json_object_get(it, "nodes")));
        else if (strcmp(what, "nodes") == 0) {
            json_t *func = json_object_get(it, "func");
            printf("%-30s %s\n", name, func ? json_string_value(func) : "(command)");
        } else if (strcmp(what, "datasets") == 0) {
            const char *fp = json_string_value(json_object_get(it, "filepath"));
            json_t *exists = json_object_get(it, "exists");
            json_t *users = json_object_get(it, "used_by");
            printf("%-28s %-10s %-8s %-46s used by %zu node%s\n", name,
                   json_string_value(json_object_get(it, "type")),
                   !exists ? "" : json_is_true(exists) ? "exists" : "missing", fp ? fp : "",
                   json_array_size(users), json_array_size(users) == 1 ? "" : "s");
        } else if (strcmp(what, "runners") == 0) {
            /* a wrapping runner shows what it wraps: tune -> sturdy -> par(parallel) */
            const char *stack = json_string_value(json_object_get(it, "stack"));
            bool wraps = stack && (strstr(stack, " -> ") || strncmp(stack, "error: ", 7) == 0);
            printf("%-20s %-20s%s%s%s\n", name, json_string_value(json_object_get(it, "type")),
                   wraps ? " " : "", wraps ? stack : "",
                   json_is_true(json_object_get(it, "default")) ? " (default)" : "");
        } else if (strcmp(what, "hooks") == 0) {
            char *opts = crun_json_dumps(json_object_get(it, "options"), JSON_COMPACT);
            printf("%-20s %-28s %s\n", name, json_string_value(json_object_get(it, "where")),
                   opts ? opts : "");
            free(opts);
        } else {
            printf("%-14s %-8s %-8s %s\n", name, json_string_value(json_object_get(it, "kind")),
                   json_string_value(json_object_get(it, "version")),
                   json_string_value(json_object_get(it, "path")));
        }
    }
}

static void print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text)
        puts(text);
    free(text);
}

static int do_catalog(cli *c, crun_session *s, crun_error *err)
{
    if (c->what && strcmp(c->what, "list") == 0)
        return cli_catalog_list(c, s, err);
    if (c->what && strcmp(c->what, "show") == 0 && c->what2)
        return cli_catalog_show(c, s, err);
    if (!c->what || strcmp(c->what, "describe") != 0 || !c->what2)
        return usage_error("%s", "usage: crun catalog describe DATASET [--json] | "
                                 "crun catalog list [--pipeline P] [--json] | "
                                 "crun catalog show DATASET [--head N]");
    json_t *d;
    if (crun_session_describe_dataset(s, c->what2, &d, err) != 0)
        return report(err);
    if (c->json) {
        print_json(d);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(d, key, v) {
            char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%-12s %s\n", key, text ? text : json_string_value(v));
            free(text);
        }
    }
    json_decref(d);
    return EXIT_OK;
}

static int do_list(cli *c, crun_session *s, crun_error *err)
{
    if (!c->what)
        return usage_error("%s", "crun list needs what to list: pipelines, nodes, datasets, "
                                 "runners or plugins");
    if (c->what2)
        return usage_error("unexpected argument '%s'", c->what2);
    json_t *items;
    if (crun_session_list(s, c->what, &items, err) != 0)
        return report(err);
    if (c->json) {
        char *text = json_dumps(items, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            puts(text);
        free(text);
    } else {
        print_list(c->what, items);
    }
    json_decref(items);
    return EXIT_OK;
}

/* "1..1024", ">= 0", "a|b|c" or "" for one option of options_table_json. */
static void option_range(json_t *o, char *buf, size_t size)
{
    json_t *min = json_object_get(o, "min"), *max = json_object_get(o, "max");
    json_t *choices = json_object_get(o, "choices");
    size_t len = 0, i;
    json_t *c;
    buf[0] = '\0';
    if (min && max)
        snprintf(buf, size, "%.15g..%.15g", json_number_value(min), json_number_value(max));
    else if (min || max)
        snprintf(buf, size, "%s %.15g", min ? ">=" : "<=", json_number_value(min ? min : max));
    json_array_foreach(choices, i, c)
        if (len < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "|" : "",
                                    json_string_value(c));
}

/* One line per option: name, type, default, range or choices, doc. */
static void print_options(json_t *options)
{
    size_t i;
    json_t *o;
    if (!json_array_size(options))
        printf("%-12s %s\n", "options", "(none)");
    json_array_foreach(options, i, o) {
        char range[256];
        option_range(o, range, sizeof(range));
        const char *def = json_string_value(json_object_get(o, "default"));
        printf("%-12s %-16s %-11s %-12s %-14s %s\n", i ? "" : "options",
               json_string_value(json_object_get(o, "name")),
               json_string_value(json_object_get(o, "type")),
               def ? def : (json_is_true(json_object_get(o, "required")) ? "(required)" : "-"),
               range, json_string_value(json_object_get(o, "doc")));
    }
}

static int do_plugin(cli *c, crun_error *err)
{
    if (!c->what || strcmp(c->what, "info") != 0 || !c->what2)
        return usage_error("%s", "usage: crun plugin info FILE.so");
    json_t *info;
    if (crun_plugin_info(c->what2, &info, err) != 0)
        return report(err);
    if (c->json) {
        char *text = json_dumps(info, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            puts(text);
        free(text);
    } else {
        const char *keys[] = {"name", "kind", "version", "abi", "description", "path"};
        for (size_t i = 0; i < 6; i++)
            printf("%-12s %s\n", keys[i], json_string_value(json_object_get(info, keys[i])));
        size_t i;
        json_t *fn;
        json_array_foreach(json_object_get(info, "functions"), i, fn)
            printf("%-12s %s  %s\n", i ? "" : "functions",
                   json_string_value(json_object_get(fn, "name")),
                   json_string_value(json_object_get(fn, "doc")));
        json_t *options = json_object_get(info, "options");
        if (options)
            print_options(options);
    }
    json_decref(info);
    return EXIT_OK;
}

/* A dry run's plan: "run  NODE  reason" per node, in plan order. */
static void print_decisions(json_t *decisions)
{
    size_t i, width = 4, runs = 0;
    json_t *d;
    json_array_foreach(decisions, i, d) {
        size_t len = strlen(json_string_value(json_object_get(d, "node")));
        width = len > width ? len : width;
    }
    json_array_foreach(decisions, i, d) {
        const char *action = json_string_value(json_object_get(d, "action"));
        runs += strcmp(action, "run") == 0;
        printf("%-4s  %-*s  %s\n", action, (int)width,
               json_string_value(json_object_get(d, "node")),
               json_string_value(json_object_get(d, "reason")));
    }
    printf("%zu of %zu nodes would run\n", runs, json_array_size(decisions));
}

static int do_run(cli *c, crun_session *s, crun_error *err)
{
    crun_run_result res = CRUN_RUN_RESULT_INIT;
    c->ro.progress = !c->quiet;
    int rc = crun_session_run(s, &c->ro, &res, err);
    int status = exit_status(rc);
    if (rc == 0 && c->ro.dry_run) {
        if (c->json)
            print_json(res.decisions);
        else
            print_decisions(res.decisions);
    } else if (rc == 0 && res.nodes_up_to_date && !c->quiet && !res.delegated) {
        fprintf(stderr, "crun: run %s: %zu of %zu nodes done, %zu up to date\n", res.run_id,
                res.nodes_done, res.nodes_total, res.nodes_up_to_date);
    } else if (rc == 0) {
        if (!c->quiet && res.delegated)
            fprintf(stderr, "crun: run %s: the runner ran the pipeline in runs of its own\n",
                    res.run_id);
        else if (!c->quiet)
            fprintf(stderr, "crun: run %s: %zu of %zu nodes done\n", res.run_id, res.nodes_done,
                    res.nodes_total);
    } else if (rc == CRUN_ECANCELED) {
        fprintf(stderr, "crun: interrupted: run %s stopped after %zu of %zu nodes\n",
                res.run_id ? res.run_id : "-", res.nodes_done, res.nodes_total);
    } else {
        report(err);
    }
    if (rc && rc != CRUN_ECANCELED && res.failed_nodes && res.failed_nodes[0]) {
        fprintf(stderr, "crun: the run failed at node%s", res.failed_nodes[1] ? "s" : "");
        for (size_t i = 0; res.failed_nodes[i]; i++)
            fprintf(stderr, "%s '%s'", i ? "," : "", res.failed_nodes[i]);
        fprintf(stderr, "\n");
    }
    if (rc && res.resume_command)
        fprintf(stderr, "crun: resume with:\n  %s\n", res.resume_command);
    else if (rc && rc != CRUN_ECANCELED && res.failed_nodes && res.failed_nodes[0])
        fprintf(stderr, "crun: no nodes ran. Repeat the previous command to attempt a new run"
                        ".\n");
    crun_run_result_clear(&res);
    return status;
}

static int do_command(cli *c, crun_session *s, crun_error *err)
{
    if (strcmp(c->command, "compile") == 0)
        return do_compile(c, s, err);
    if (strcmp(c->command, "list") == 0)
        return do_list(c, s, err);
    if (strcmp(c->command, "registry") == 0) { /* Kedro's name for the pipelines' list */
        if (!c->what || strcmp(c->what, "list") != 0)
            return usage_error("%s", "usage: crun registry list [--json]");
        if (c->what2)
            return usage_error("unexpected argument '%s'", c->what2);
        c->what = "pipelines";
        return do_list(c, s, err);
    }
    if (strcmp(c->command, "catalog") == 0)
        return do_catalog(c, s, err);
    if (strcmp(c->command, "pipeline") == 0)
        return cli_pipeline_create(c, s, err);
    if (strcmp(c->command, "export") == 0)
        return cli_export(c, s, err);
    if (strcmp(c->command, "viz") == 0)
        return cli_viz(c, s, err);
    if (cli_watch_crashes(s, err) != 0)
        return report(err);
    return do_run(c, s, err);
}

int main(int argc, char **argv)
{
    cli c = {.so = CRUN_SESSION_OPTIONS_INIT, .ro = CRUN_RUN_OPTIONS_INIT,
             .filter = CRUN_FILTER_INIT};
    int rc = parse_args(&c, argc, argv);
    if (rc) {
        cli_free(&c);
        return rc;
    }
    crun_error err = CRUN_ERROR_INIT;
    if (strcmp(c.command, "new") == 0) {
        rc = cli_new(&c, &err);
        crun_error_clear(&err);
        cli_free(&c);
        return rc;
    }
    if (strcmp(c.command, "plugin") == 0) {
        rc = do_plugin(&c, &err);
        crun_error_clear(&err);
        cli_free(&c);
        return rc;
    }
    signal_watch w = {0};
    sigemptyset(&w.set);
    sigaddset(&w.set, SIGINT);
    sigaddset(&w.set, SIGTERM);
    sigaddset(&w.set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &w.set, NULL);
    signal(SIGPIPE, SIG_IGN);
    c.so.log_level = c.quiet ? CRUN_LOG_ERROR : c.verbose ? CRUN_LOG_DEBUG : CRUN_LOG_INFO;
    char plugin_dir[PATH_MAX];
    c.so.builtin_plugin_dir = builtin_plugin_dir(plugin_dir, sizeof(plugin_dir));
    /* these run nothing, so no hook is started for them */
    c.so.no_hooks = strcmp(c.command, "export") == 0 || strcmp(c.command, "viz") == 0 ||
                    strcmp(c.command, "registry") == 0 || strcmp(c.command, "pipeline") == 0 ||
                    strcmp(c.command, "catalog") == 0 || strcmp(c.command, "list") == 0 ||
                    strcmp(c.command, "compile") == 0;
    /* the load asks whether a signal is pending; the thread watches after it */
    c.so.interrupted = signalled;
    c.so.interrupted_user = &w;
    crun_session *s = NULL;
    bool watching = false;
    if (crun_session_open(&c.so, &s, &err) != 0) {
        if (err.code == CRUN_ECANCELED)
            fprintf(stderr, "crun: %s\n", err.message ? err.message : "interrupted");
        rc = err.code == CRUN_ECANCELED ? EXIT_INTERRUPTED : report(&err);
    } else {
        atomic_store(&w.session, s);
        /* a signal after the load last asked is taken at once, and the
         * session's first run stops */
        watching = pthread_create(&w.thread, NULL, watch_signals, &w) == 0;
        c.signalled = &w.got;
        rc = do_command(&c, s, &err);
    }
    if (watching) {
        atomic_store(&w.done, true);
        pthread_kill(w.thread, SIGUSR1);
        pthread_join(w.thread, NULL);
    }
    if (s) {
        /* a run that stopped gracefully on a signal (the service) ended well;
         * anything else interrupted says so */
        if (atomic_load(&w.got) && rc == EXIT_OK && strcmp(c.command, "run") != 0)
            rc = EXIT_INTERRUPTED;
        crun_session_close(s);
    }
    crun_error_clear(&err);
    cli_free(&c);
    return rc;
}
