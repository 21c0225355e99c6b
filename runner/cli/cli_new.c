/* cli_new.c - `crun new NAME`: a new project folder with a node library.
 *
 * The project is the smallest one that shows every part: crun.ini, conf/base
 * (one pipeline of one function node, a catalog entry, a parameter, a
 * runner) and conf/local, a node library in C (src/<lib>.c) with its own
 * meson.build that builds against the installed crun (pkg-config crun), and
 * a README.  crun.ini's plugin_path is the build folder `b`, so
 *
 *     crun new x && cd x && meson setup b && meson compile -C b && crun
 *
 * runs the pipeline.  Files are written into a temporary folder beside NAME
 * that is renamed to NAME at the end: a failure leaves nothing behind, and
 * an existing NAME is never touched.
 *
 * `crun new --runner NAME`, `--hook NAME` and `--dataset NAME` write a
 * plugin project instead (their files are in cli_new_runner.c,
 * cli_new_hook.c and cli_new_dataset.c).
 */
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* @NAME@ is the project's name, @LIB@ its node library's (cli.h's cli_template). */
typedef cli_template template_file;

static const char crun_ini[] =
    "; The @NAME@ project (made by `crun new`).\n"
    "[project]\n"
    "name = @NAME@\n"
    "default_env = local\n"
    "; node libraries are looked up here first: the folder the node library is\n"
    "; built in (meson setup b); then CRUN_PLUGIN_PATH, then crun's own plugins\n"
    "plugin_path = b\n"
    "\n"
    "[hooks]\n"
    "; hooks in call order, e.g. a JSON line per event for `crun viz --events`:\n"
    "; events = path=logs/events.jsonl\n";

static const char pipelines_yml[] =
    "# The pipelines of @NAME@.  A function node calls LIBRARY.FUNCTION from a node\n"
    "# library; an input named params:KEY is a parameter (parameters.yml).\n"
    "libraries:\n"
    "  @LIB@: @LIB@            # src/@LIB@.c, built as b/@LIB@.so (crun.ini plugin_path)\n"
    "\n"
    "pipelines:\n"
    "  __default__:\n"
    "    nodes:\n"
    "      - name: greet\n"
    "        func: @LIB@.greet\n"
    "        inputs: {name: \"params:name\"}\n"
    "        outputs: greeting\n"
    "        tags: [example]\n";

static const char catalog_yml[] =
    "# Where the data lives.  Anything a node makes that is not listed here is a\n"
    "# memory dataset, released as soon as its last reader has run.\n"
    "greeting:\n"
    "  type: text\n"
    "  filepath: data/greeting.txt\n";

static const char parameters_yml[] =
    "# Parameters: nodes read them as inputs named params:KEY (params:a.b for a\n"
    "# nested one); override one with crun --params name=you.\n"
    "name: world\n";

static const char runner_yml[] =
    "# Named runners; crun --runner NAME picks one, --runner-opt key=value sets an option.\n"
    "default: sequential\n"
    "runners:\n"
    "  sequential: {type: sequential}\n";

static const char local_readme[] =
    "The `local` environment, the default one: it overrides conf/base on this\n"
    "machine.  Put machine-specific settings and secrets (credentials.yml) here and\n"
    "keep them out of version control.\n";

static const char gitignore[] =
    "/b/\n"
    "/build/\n"
    "/.crun/\n"
    "/conf/local/credentials.yml\n";

static const char meson_build[] =
    "# The node library of @NAME@: src/@LIB@.c built as @LIB@.so against the installed\n"
    "# crun (pkg-config crun).  crun.ini's plugin_path names the build folder b, so\n"
    "#   meson setup b && meson compile -C b && crun\n"
    "# builds the library and runs the pipeline.\n"
    "project('@NAME@', 'c',\n"
    "  version : '0.1.0',\n"
    "  meson_version : '>= 0.60.0',\n"
    "  default_options : ['c_std=c11', 'warning_level=2'])\n"
    "\n"
    "shared_module('@LIB@', 'src/@LIB@.c',\n"
    "  name_prefix : '',\n"
    "  gnu_symbol_visibility : 'hidden',\n"
    "  dependencies : dependency('crun'))\n";

static const char library_c[] =
    "/* @LIB@.c - the node library of @NAME@: the functions its pipelines call as\n"
    " * @LIB@.FUNCTION (conf/base/pipelines.yml).\n"
    " *\n"
    " * A node function reads its inputs through the call, sets its outputs, and\n"
    " * keeps no state of its own: crun may run it on any thread, several at once.\n"
    " * To add one: write it, list it in `nodes` below, rebuild (meson compile -C b),\n"
    " * and use it in pipelines.yml.\n"
    " */\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "\n"
    "#include <crun/crun.h>\n"
    "\n"
    "/* name (a string parameter) -> greeting (a line of text) */\n"
    "static int greet(crun_call *call)\n"
    "{\n"
    "    json_t *name = crun_value_json(crun_call_input(call, \"name\"));\n"
    "    if (!json_is_string(name))\n"
    "        return crun_call_fail(call, \"input 'name' must be a string (parameters.yml: name: world)\");\n"
    "    size_t cap = json_string_length(name) + sizeof(\"Hello, !\\n\");\n"
    "    char *text = malloc(cap);\n"
    "    if (!text)\n"
    "        return crun_call_fail(call, \"out of memory\");\n"
    "    int len = snprintf(text, cap, \"Hello, %s!\\n\", json_string_value(name));\n"
    "    crun_call_log(call, CRUN_LOG_INFO, \"greeting %s\", json_string_value(name));\n"
    "    /* the value takes text over; the host owns the output from here */\n"
    "    return crun_call_set_output(call, \"greeting\",\n"
    "                            crun_value_bytes_take(text, (size_t)len, \"text/plain; charset=utf-8\"));\n"
    "}\n"
    "\n"
    "static const crun_node_def nodes[] = {\n"
    "    {\"greet\", greet, \"name -> greeting: a line of text that greets name\"},\n"
    "};\n"
    "\n"
    "static const crun_nodes_type table = {\n"
    "    .size = sizeof(crun_nodes_type),\n"
    "    .nodes = nodes,\n"
    "    .n_nodes = sizeof(nodes) / sizeof(nodes[0]),\n"
    "};\n"
    "\n"
    "static const crun_plugin plugin = {\n"
    "    CRUN_PLUGIN_HEAD,\n"
    "    .kind = CRUN_PLUGIN_NODES,\n"
    "    .name = \"@LIB@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .description = \"the node functions of @NAME@\",\n"
    "    .table = &table,\n"
    "};\n"
    "\n"
    "CRUN_PLUGIN_EXPORT const crun_plugin *crun_plugin_entry(void)\n"
    "{\n"
    "    return &plugin;\n"
    "}\n";

static const char readme_md[] =
    "# @NAME@\n"
    "\n"
    "A crun pipeline project, made by `crun new @NAME@`.\n"
    "\n"
    "## Build and run\n"
    "\n"
    "The node library in `src/` is C, built against the installed crun (its\n"
    "pkg-config file `crun.pc`; set `PKG_CONFIG_PATH` if crun lives in another prefix):\n"
    "\n"
    "    meson setup b            # once; b is the folder crun.ini's plugin_path names\n"
    "    meson compile -C b       # after every change to src/\n"
    "    crun                     # run the default pipeline: writes data/greeting.txt\n"
    "    crun --params name=you   # override a parameter for one run\n"
    "\n"
    "To build somewhere else, change `plugin_path` in `crun.ini` to match.\n"
    "\n"
    "## What is where\n"
    "\n"
    "    crun.ini                   project name, default env, plugin path, hooks\n"
    "    conf/base/pipelines.yml    the pipeline: one node, greet, calling @LIB@.greet\n"
    "    conf/base/catalog.yml      datasets: greeting is data/greeting.txt\n"
    "    conf/base/parameters.yml   parameters: name\n"
    "    conf/base/runner.yml       named runners (default: sequential)\n"
    "    conf/local/                the default environment: overrides base on this machine\n"
    "    src/@LIB@.c                the node library: one function per node\n"
    "    meson.build                builds src/@LIB@.c as b/@LIB@.so\n"
    "\n"
    "## Next steps\n"
    "\n"
    "- Add a node: write a function in `src/@LIB@.c`, list it in `nodes`, rebuild,\n"
    "  and add it to `conf/base/pipelines.yml` with its inputs and outputs.\n"
    "- A command node runs a program instead: `cmd: [sh, -c, \"wc -c < {inputs.t} > {outputs.n}\"]`.\n"
    "- Another environment: `conf/prod/` overrides `conf/base`; run it with `crun --env prod`.\n"
    "- See the pipeline: `crun list nodes`, `crun viz -o pipeline.html`.\n"
    "- Run it on a cluster: `crun export argo` (see crun's docs/engines.md).\n";

static const template_file files[] = {
    {"crun.ini", crun_ini},
    {"conf/base/pipelines.yml", pipelines_yml},
    {"conf/base/catalog.yml", catalog_yml},
    {"conf/base/parameters.yml", parameters_yml},
    {"conf/base/runner.yml", runner_yml},
    {"conf/local/README.md", local_readme},
    {"data/.gitkeep", ""},
    {".gitignore", gitignore},
    {"meson.build", meson_build},
    {"src/@LIB@.c", library_c},
    {"README.md", readme_md},
};

/* text with @NAME@ and @LIB@ replaced (a new string), NULL when out of memory */
static char *expand(const char *text, const char *name, const char *lib)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    for (const char *p = text; *p; p++) {
        if (strncmp(p, "@NAME@", 6) == 0) {
            fputs(name, f);
            p += 5;
        } else if (strncmp(p, "@LIB@", 5) == 0) {
            fputs(lib, f);
            p += 4;
        } else {
            fputc(*p, f);
        }
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* A project name: a letter, then letters, digits, '_' or '-'; it names the
 * project, the meson project and (with '-' as '_') the node library. */
static bool valid_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
              || *s == '_' || *s == '-'))
            return false;
    return true;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int write_files(const template_file *set, size_t n, const char *dir, const char *name,
                       const char *lib, crun_error *err)
{
    for (size_t i = 0; i < n; i++) {
        char *rel = expand(set[i].path, name, lib), *text = expand(set[i].text, name, lib);
        char *path = NULL;
        if (!rel || !text || asprintf(&path, "%s/%s", dir, rel) < 0)
            path = NULL;
        int rc = path ? crun_file_write_atomic(path, text, strlen(text), err)
                      : crun_error_set(err, CRUN_ENOMEM, "out of memory");
        free(rel);
        free(text);
        free(path);
        if (rc)
            return rc;
    }
    return 0;
}

int cli_new(cli *c, crun_error *err)
{
    /* crun new --runner NAME / --hook NAME / --dataset NAME: a plugin project instead */
    bool runner = c->ro.runner != NULL, hook = c->new_hook != NULL,
         dataset = c->new_dataset != NULL;
    if (runner + hook + dataset > 1)
        return usage_error("%s", "crun new: one of --runner, --hook or --dataset, not several");
    if ((runner || hook || dataset) && c->what)
        return usage_error("unexpected argument '%s' (crun new --runner NAME, --hook NAME or "
                           "--dataset NAME makes a plugin project)", c->what);
    if (runner || hook || dataset)
        c->what = runner ? c->ro.runner : hook ? c->new_hook : c->new_dataset;
    if (!c->what)
        return usage_error("%s", "crun new needs the new project's name: crun new NAME "
                                 "(or crun new --runner NAME for a runner plugin)");
    if (c->what2)
        return usage_error("unexpected argument '%s'", c->what2);
    char *copy = strdup(c->what), *copy2 = strdup(c->what);
    if (!copy || !copy2) {
        free(copy);
        free(copy2);
        return report(&(crun_error){CRUN_ENOMEM, NULL});
    }
    const char *name = basename(copy), *parent = dirname(copy2);
    int status = EXIT_OK;
    char *lib = strdup(name), *tmp = NULL;
    struct stat st;
    if (!valid_name(name)) {
        status = usage_error("crun new: '%s' is not a project name (a letter, then letters, "
                             "digits, '_' or '-')", c->what[0] ? name : ""); /* basename: "." */
    } else if (lstat(c->what, &st) == 0) {
        status = usage_error("crun new: '%s' already exists; give the name of a new folder", c->what);
    } else if (!lib || asprintf(&tmp, "%s/.%s.new-XXXXXX", parent, name) < 0) {
        tmp = NULL;
        status = report(&(crun_error){CRUN_ENOMEM, NULL});
    } else if (!mkdtemp(tmp)) {
        crun_error_set(err, CRUN_EUSAGE, "crun new: cannot create a folder in '%s': %s", parent,
                       strerror(errno));
        status = report(err);
    } else {
        for (char *p = lib; *p; p++)
            if (*p == '-')
                *p = '_';
        const template_file *set = runner ? cli_runner_files
                                   : hook ? cli_hook_files : dataset ? cli_dataset_files : files;
        size_t n = runner ? cli_n_runner_files
                   : hook ? cli_n_hook_files
                   : dataset ? cli_n_dataset_files : sizeof(files) / sizeof(files[0]);
        int rc = write_files(set, n, tmp, name, lib, err);
        if (rc == 0 && (chmod(tmp, 0755) != 0 || rename(tmp, c->what) != 0))
            rc = crun_error_set(err, CRUN_EIO, "crun new: cannot create '%s': %s", c->what,
                                strerror(errno));
        if (rc) {
            nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
            report(err);
            status = EXIT_USAGE; /* no pipeline ran: this is not status 1 */
        } else if (!c->quiet && (runner || hook || dataset)) {
            const char *kind = runner ? "runner" : hook ? "hook" : "dataset";
            printf("crun: created %s plugin project '%s' in %s/\n"
                   "next:\n"
                   "  cd %s\n"
                   "  meson setup b && meson compile -C b   # build the %s src/%s.c\n"
                   "  meson test -C b                       # run example/ with it\n",
                   kind, name, c->what, c->what, kind, lib);
        } else if (!c->quiet) {
            printf("crun: created project '%s' in %s/\n"
                   "next:\n"
                   "  cd %s\n"
                   "  meson setup b && meson compile -C b   # build the node library src/%s.c\n"
                   "  crun                                  # run the pipeline\n",
                   name, c->what, c->what, lib);
        }
    }
    free(tmp);
    free(lib);
    free(copy);
    free(copy2);
    return status;
}
