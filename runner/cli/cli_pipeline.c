/* cli_pipeline.c - `crun pipeline create NAME`, Kedro's `kedro pipeline
 * create`: a new pipeline in a project laid out as `crun new` makes it.
 *
 * It writes src/NAME.c (one example node function), registers the function
 * in the node library (src/LIB.c's nodes table, meson.build's sources) and
 * appends the pipeline to conf/base/pipelines.yml and its output to
 * conf/base/catalog.yml.  Files are only appended to or have lines
 * inserted, never re-serialized, so their comments and layout stay.  Every
 * check is made before the first write; a failed write puts back what was
 * written before it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char node_c[] =
    "/* %1$s.c - the nodes of pipeline %1$s (made by `crun pipeline create %1$s`).\n"
    " *\n"
    " * Each function is listed in src/%2$s.c's nodes table and built into the\n"
    " * node library with it (meson.build); conf/base/pipelines.yml calls it as\n"
    " * %2$s.FUNCTION.  As every node function, it keeps no state of its own.\n"
    " */\n"
    "#include <string.h>\n"
    "\n"
    "#include <crun/crun.h>\n"
    "\n"
    "int %1$s_example(crun_call *call);\n"
    "\n"
    "/* -> text (a line of text): replace it with the pipeline's first step */\n"
    "int %1$s_example(crun_call *call)\n"
    "{\n"
    "    static const char text[] = \"pipeline %1$s ran\\n\";\n"
    "    crun_call_log(call, CRUN_LOG_INFO, \"the example node of %1$s\");\n"
    "    return crun_call_set_output(call, \"text\",\n"
    "                                crun_value_bytes_new(text, strlen(text),\n"
    "                                                     \"text/plain; charset=utf-8\"));\n"
    "}\n";

static const char table_line[] = "static const crun_node_def nodes[] = {\n";

/* A pipeline name: a letter, then letters, digits or '_' (it names a C file
 * and functions too). */
static bool valid_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
              || *s == '_'))
            return false;
    return true;
}

/* One file the command changes: its path, its text before (NULL: new) and after. */
typedef struct edit {
    char *path;
    char *before;
    char *after;
} edit;

typedef struct plan {
    const char *name;
    char *conf;    /* the configuration folder */
    char *lib;     /* the node library's name (its key under libraries:) */
    edit e[5];     /* src/NAME.c, meson.build, src/LIB.c, catalog.yml, pipelines.yml */
} plan;

static void plan_free(plan *p)
{
    free(p->conf);
    free(p->lib);
    for (size_t i = 0; i < 5; i++) {
        free(p->e[i].path);
        free(p->e[i].before);
        free(p->e[i].after);
    }
}

/* The first occurrence of needle in hay, NULL when none or more than one. */
static const char *find_once(const char *hay, const char *needle)
{
    const char *at = strstr(hay, needle);
    return at && !strstr(at + 1, needle) ? at : NULL;
}

/* text with ins inserted at offset off (a new string). */
static char *insert_at(const char *text, size_t off, const char *ins)
{
    char *out = NULL;
    if (asprintf(&out, "%.*s%s%s", (int)off, text, ins, text + off) < 0)
        return NULL;
    return out;
}

/* text, a newline if it lacks its last one, then tail (a new string). */
static char *append(const char *text, const char *tail)
{
    size_t len = strlen(text);
    char *out = NULL;
    if (asprintf(&out, "%s%s%s", text, len && text[len - 1] != '\n' ? "\n" : "", tail) < 0)
        return NULL;
    return out;
}

/* Read path into e (before), with a usage error naming it when it is missing. */
static int read_edit(edit *e, char *path, const char *why, crun_error *err)
{
    e->path = path;
    size_t len;
    if (!path)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    if (crun_file_read(path, &e->before, &len, err) != 0) {
        crun_error_prefix(err, "crun pipeline create: %s: ", why);
        err->code = CRUN_EUSAGE; /* not the layout of crun new */
        return CRUN_EUSAGE;
    }
    return 0;
}

static char *path2(const char *a, const char *b)
{
    char *out = NULL;
    return asprintf(&out, "%s/%s", a, b) < 0 ? NULL : out;
}

/* The indentation of the entries under the last top-level key, which must be
 * `pipelines:` for an appended entry to land in it; -1 when it is not. */
static int pipelines_indent(const char *text)
{
    const char *last = NULL;
    int indent = 2;
    for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
        if (*l != ' ' && *l != '#' && *l != '\n' && *l != '-')
            last = l;
    if (!last || strncmp(last, "pipelines:", 10) != 0)
        return -1;
    const char *rest = last + 10 + strspn(last + 10, " ");
    if (*rest != '\n' && *rest != '#')
        return -1; /* pipelines: {...} on one line */
    for (const char *l = strchr(last, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
        size_t n = strspn(l + 1, " ");
        if (l[1 + n] != '\n' && l[1 + n] != '#' && n > 0) {
            indent = (int)n;
            break;
        }
    }
    return indent;
}

static int refuse(crun_error *err, const char *fmt, const char *a, const char *b)
{
    char msg[1024];
    snprintf(msg, sizeof(msg), fmt, a, b);
    return crun_error_set(err, CRUN_EUSAGE, "crun pipeline create: %s", msg);
}

/* The library: the only one, or the one named as the project. */
static int choose_library(plan *p, crun_session *s, json_t *ir, crun_error *err)
{
    json_t *libs = json_object_get(ir, "libraries");
    char *own = strdup(crun_session_name(s));
    for (char *c = own; c && *c; c++)
        if (*c == '-')
            *c = '_';
    const char *key = own && json_object_get(libs, own) ? own : NULL;
    if (!key && json_object_size(libs) == 1)
        key = json_object_iter_key(json_object_iter(libs));
    p->lib = key ? strdup(key) : NULL;
    free(own);
    if (!p->lib)
        return refuse(err, "pipelines.yml has no node library named as the project '%s'%s; "
                      "is the project laid out as `crun new` makes it?", crun_session_name(s), "");
    return 0;
}

static int plan_sources(plan *p, const char *dir, crun_error *err)
{
    char *rel = NULL, *decl = NULL, *row = NULL, *src = NULL;
    struct stat st;
    int rc = asprintf(&rel, "src/%s.c", p->name) < 0 ? CRUN_ENOMEM : 0;
    if (!rc && !(p->e[0].path = path2(dir, rel)))
        rc = CRUN_ENOMEM;
    if (!rc && lstat(p->e[0].path, &st) == 0)
        rc = refuse(err, "%s already exists (choose another pipeline name)%s", rel, "");
    if (!rc && asprintf(&p->e[0].after, node_c, p->name, p->lib) < 0)
        rc = CRUN_ENOMEM;
    if (!rc)
        rc = read_edit(&p->e[1], path2(dir, "meson.build"), "the node library's build", err);
    if (!rc && asprintf(&src, "'src/%s.c'", p->lib) < 0)
        rc = CRUN_ENOMEM;
    const char *at = rc ? NULL : find_once(p->e[1].before, src);
    if (!rc && !at)
        rc = refuse(err, "meson.build does not build %s once, as `crun new` makes it; add "
                    "src/%s.c to the library's sources by hand", src, p->name);
    if (!rc && (asprintf(&decl, ", 'src/%s.c'", p->name) < 0 ||
                !(p->e[1].after = insert_at(p->e[1].before, (size_t)(at - p->e[1].before)
                                                              + strlen(src), decl))))
        rc = CRUN_ENOMEM;
    free(decl);
    decl = NULL;
    if (!rc) {
        free(rel);
        rel = NULL;
        rc = asprintf(&rel, "src/%s.c", p->lib) < 0 ? CRUN_ENOMEM : 0;
    }
    if (!rc)
        rc = read_edit(&p->e[2], path2(dir, rel), "the node library", err);
    at = rc ? NULL : find_once(p->e[2].before, table_line);
    if (!rc && !at)
        rc = refuse(err, "%s has no `nodes` table as `crun new` makes it; register %s_example "
                    "by hand", rel, p->name);
    if (!rc && (asprintf(&decl, "/* pipeline %1$s's nodes (src/%1$s.c) */\n"
                         "int %1$s_example(crun_call *call);\n\n", p->name) < 0 ||
                asprintf(&row, "%s    {\"%s_example\", %s_example, \"-> text: pipeline %s's "
                         "example node (src/%s.c)\"},\n", decl, p->name, p->name, p->name,
                         p->name) < 0))
        rc = CRUN_ENOMEM;
    if (!rc) {
        /* the declaration before the table, the row as its first line */
        size_t off = (size_t)(at - p->e[2].before);
        char *with_row = insert_at(p->e[2].before, off + strlen(table_line), row + strlen(decl));
        p->e[2].after = with_row ? insert_at(with_row, off, decl) : NULL;
        free(with_row);
        if (!p->e[2].after)
            rc = CRUN_ENOMEM;
    }
    free(rel);
    free(decl);
    free(row);
    free(src);
    return rc == CRUN_ENOMEM ? crun_error_set(err, rc, "out of memory") : rc;
}

static int plan_conf(plan *p, json_t *ir, crun_error *err)
{
    char *tail = NULL, *out = NULL;
    if (asprintf(&out, "%s_example_output", p->name) < 0)
        return crun_error_set(err, CRUN_ENOMEM, "out of memory");
    int rc = json_object_get(json_object_get(ir, "datasets"), out)
                 ? refuse(err, "the catalog already has a dataset %s%s", out, "")
                 : read_edit(&p->e[3], path2(p->conf, "base/catalog.yml"), "the catalog", err);
    if (!rc && (asprintf(&tail, "\n# made by `crun pipeline create %1$s`\n%2$s:\n"
                         "  type: text\n  filepath: data/%1$s_example.txt\n", p->name, out) < 0 ||
                !(p->e[3].after = append(p->e[3].before, tail))))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(tail);
    tail = NULL;
    if (!rc)
        rc = read_edit(&p->e[4], path2(p->conf, "base/pipelines.yml"), "the pipelines", err);
    int in = rc ? 0 : pipelines_indent(p->e[4].before);
    if (!rc && in < 0)
        rc = refuse(err, "%s: `pipelines:` is not the file's last key, so an entry cannot be "
                    "appended to it; add pipeline %s by hand", p->e[4].path, p->name);
    if (!rc && (asprintf(&tail, "%1$*3$s%2$s:   # made by `crun pipeline create %2$s`\n"
                         "%1$*4$snodes:\n"
                         "%1$*5$s- name: %2$s_example\n"
                         "%1$*5$s  func: %6$s.%2$s_example   # src/%2$s.c\n"
                         "%1$*5$s  outputs: {text: %7$s}\n"
                         "%1$*5$s  tags: [%2$s]\n",
                         "", p->name, in, 2 * in, 3 * in, p->lib, out) < 0 ||
                !(p->e[4].after = append(p->e[4].before, tail))))
        rc = crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(tail);
    free(out);
    return rc;
}

/* Write the edits in order; on a failure, put back those already written. */
static int apply(plan *p, crun_error *err)
{
    for (size_t i = 0; i < 5; i++) {
        const edit *e = &p->e[i];
        if (crun_file_write_atomic(e->path, e->after, strlen(e->after), err) == 0)
            continue;
        crun_error ignored = CRUN_ERROR_INIT;
        while (i-- > 0) {
            if (p->e[i].before)
                crun_file_write_atomic(p->e[i].path, p->e[i].before, strlen(p->e[i].before),
                                       &ignored);
            else
                unlink(p->e[i].path);
            crun_error_clear(&ignored);
        }
        return CRUN_EIO;
    }
    return 0;
}

static int check_new(plan *p, crun_session *s, crun_error *err)
{
    json_t *list = NULL, *item;
    size_t i;
    int rc = crun_session_list(s, "pipelines", &list, err);
    json_array_foreach(list, i, item) {
        if (!rc && strcmp(json_string_value(json_object_get(item, "name")), p->name) == 0)
            rc = refuse(err, "pipeline '%s' already exists%s", p->name, "");
    }
    json_decref(list);
    return rc;
}

int cli_pipeline_create(cli *c, crun_session *s, crun_error *err)
{
    if (!c->what || strcmp(c->what, "create") != 0 || !c->what2)
        return usage_error("%s", "usage: crun pipeline create NAME");
    if (!valid_name(c->what2))
        return usage_error("crun pipeline create: '%s' is not a pipeline name (a letter, then "
                           "letters, digits or '_')", c->what2);
    plan p = {.name = c->what2};
    const char *dir = crun_session_dir(s);
    json_t *ir = NULL;
    p.conf = c->so.conf_source ? realpath(c->so.conf_source, NULL) : path2(dir, "conf");
    int rc = p.conf ? 0 : crun_error_set(err, CRUN_EUSAGE, "crun pipeline create: %s: %s",
                                         c->so.conf_source ? c->so.conf_source : dir,
                                         strerror(errno));
    if (!rc)
        rc = check_new(&p, s, err);
    if (!rc)
        rc = crun_session_compile(s, NULL, &ir, err);
    if (!rc)
        rc = choose_library(&p, s, ir, err);
    if (!rc)
        rc = plan_sources(&p, dir, err);
    if (!rc)
        rc = plan_conf(&p, ir, err);
    if (!rc)
        rc = apply(&p, err);
    if (!rc && !c->quiet)
        printf("crun: created pipeline '%1$s': its node %1$s_example is in src/%1$s.c "
               "(registered in src/%2$s.c and meson.build), its entry in "
               "conf/base/pipelines.yml\n"
               "next:\n"
               "  meson compile -C b                   # rebuild the node library\n"
               "  crun run --pipeline %1$s\n", p.name, p.lib);
    json_decref(ir);
    plan_free(&p);
    if (!rc)
        return EXIT_OK;
    int status = report(err);
    return status == EXIT_FAILED ? EXIT_USAGE : status; /* no pipeline ran */
}
