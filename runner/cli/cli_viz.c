/* cli_viz.c - `crun viz`: the pipeline, nodes and datasets, as a picture.
 *
 * The filtered pipeline's IR (crun_session_compile) is drawn as a bipartite
 * graph: datasets feed nodes, nodes make datasets.  Three formats:
 *   dot      Graphviz (`dot -Tsvg`), datasets shaped by kind
 *   mermaid  a Mermaid flowchart, for Markdown that renders it
 *   html     one self-contained page (cli_viz_page.c): the IR and, with
 *            --events FILE, a run's events are embedded as JSON, and the
 *            page's own script lays the DAG out and draws it; no network.
 * Without --format the format follows -o's extension, else dot.  With
 * --serve the html page is served instead (cli_viz_serve.c) and follows
 * the events file while a run writes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* --- DOT ---------------------------------------------------------------------- */

static void dot_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* A node's or dataset's graph id: "n:name" / "d:name", so that a node and a
 * dataset of the same name stay two vertices. */
static void dot_id(FILE *f, char kind, const char *name)
{
    fprintf(f, "\"%c:", kind);
    for (; *name; name++) {
        if (*name == '"' || *name == '\\')
            fputc('\\', f);
        fputc(*name == '\n' ? ' ' : *name, f);
    }
    fputc('"', f);
}

static const char *dataset_kind(json_t *ir, const char *name)
{
    const char *kind = json_string_value(
        json_object_get(json_object_get(json_object_get(ir, "datasets"), name), "kind"));
    return kind ? kind : "memory";
}

/* The names of the datasets the nodes use, each once, in first-use order. */
static json_t *used_datasets(json_t *ir)
{
    json_t *used = json_object();
    size_t i, k;
    json_t *node, *port;
    json_array_foreach(json_object_get(ir, "nodes"), i, node) {
        json_array_foreach(json_object_get(node, "inputs"), k, port)
            json_object_set_new(used, json_string_value(json_object_get(port, "dataset")), json_null());
        json_array_foreach(json_object_get(node, "outputs"), k, port)
            json_object_set_new(used, json_string_value(json_object_get(port, "dataset")), json_null());
    }
    return used;
}

static void write_dot(FILE *f, json_t *ir)
{
    const char *project = json_string_value(json_object_get(ir, "project"));
    const char *pipeline = json_string_value(json_object_get(ir, "pipeline"));
    fprintf(f, "// crun viz: pipeline '%s' of project '%s' (env %s)\ndigraph ", pipeline, project,
            json_string_value(json_object_get(ir, "env")));
    dot_string(f, project);
    fputs(" {\n  graph [rankdir=TB, fontname=\"Helvetica\", labelloc=t, label=", f);
    dot_string(f, pipeline);
    fputs("];\n  node [fontname=\"Helvetica\", fontsize=11];\n"
          "  edge [color=\"#7a8699\", arrowsize=0.7];\n", f);
    size_t i, k;
    json_t *node, *port, *v;
    const char *name;
    json_array_foreach(json_object_get(ir, "nodes"), i, node) {
        json_t *func = json_object_get(node, "func");
        fputs("  ", f);
        dot_id(f, 'n', json_string_value(json_object_get(node, "name")));
        fputs(" [label=", f);
        dot_string(f, json_string_value(json_object_get(node, "name")));
        fputs(func ? ", shape=box, style=\"rounded,filled\", fillcolor=\"#dbe8ff\", color=\"#3b6fd8\""
                   : ", shape=box, style=\"filled\", fillcolor=\"#efe3ff\", color=\"#7c4dcc\"", f);
        fputs(", tooltip=", f);
        dot_string(f, func ? json_string_value(func) : "command node");
        fputs("];\n", f);
    }
    json_t *used = used_datasets(ir);
    json_object_foreach(used, name, v) {
        const char *kind = dataset_kind(ir, name);
        fputs("  ", f);
        dot_id(f, 'd', name);
        fputs(" [label=", f);
        dot_string(f, name);
        if (strcmp(kind, "catalog") == 0)
            fputs(", shape=cylinder, style=filled, fillcolor=\"#e3f4e8\", color=\"#2f8f4e\"", f);
        else if (strcmp(kind, "params") == 0)
            fputs(", shape=note, style=filled, fillcolor=\"#fff4d6\", color=\"#b7860b\"", f);
        else
            fputs(", shape=ellipse, style=dashed, color=\"#7a8699\"", f);
        fputs("];\n", f);
    }
    json_decref(used);
    json_array_foreach(json_object_get(ir, "nodes"), i, node) {
        const char *n = json_string_value(json_object_get(node, "name"));
        json_array_foreach(json_object_get(node, "inputs"), k, port) {
            fputs("  ", f);
            dot_id(f, 'd', json_string_value(json_object_get(port, "dataset")));
            fputs(" -> ", f);
            dot_id(f, 'n', n);
            fputs(";\n", f);
        }
        json_array_foreach(json_object_get(node, "outputs"), k, port) {
            fputs("  ", f);
            dot_id(f, 'n', n);
            fputs(" -> ", f);
            dot_id(f, 'd', json_string_value(json_object_get(port, "dataset")));
            fputs(";\n", f);
        }
    }
    fputs("}\n", f);
}

/* --- Mermaid ------------------------------------------------------------------- */

/* A label inside "...": Mermaid reads #name; entities, so quotes and the
 * characters it would take for markup are written as entities. */
static void mermaid_label(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        switch (*s) {
        case '"': fputs("#quot;", f); break;
        case '#': fputs("#35;", f); break;
        case '<': fputs("#lt;", f); break;
        case '>': fputs("#gt;", f); break;
        case '&': fputs("#amp;", f); break;
        case '\n': fputc(' ', f); break;
        default: fputc(*s, f);
        }
    }
    fputc('"', f);
}

static void write_mermaid(FILE *f, json_t *ir)
{
    fprintf(f, "%%%% crun viz: pipeline '%s' of project '%s' (env %s)\nflowchart TB\n",
            json_string_value(json_object_get(ir, "pipeline")),
            json_string_value(json_object_get(ir, "project")),
            json_string_value(json_object_get(ir, "env")));
    /* ids are n<i> and d<j>: names may hold anything Mermaid cannot parse */
    json_t *used = used_datasets(ir), *ids = json_object();
    size_t i, k, j = 0;
    json_t *node, *port, *v;
    const char *name;
    json_object_foreach(used, name, v) {
        const char *kind = dataset_kind(ir, name);
        bool catalog = strcmp(kind, "catalog") == 0, params = strcmp(kind, "params") == 0;
        fprintf(f, "  d%zu%s", j, catalog ? "[(" : params ? "{{" : "([");
        mermaid_label(f, name);
        fprintf(f, "%s:::%s\n", catalog ? ")]" : params ? "}}" : "])", kind);
        json_object_set_new(ids, name, json_integer((json_int_t)j++));
    }
    json_array_foreach(json_object_get(ir, "nodes"), i, node) {
        fprintf(f, "  n%zu[", i);
        mermaid_label(f, json_string_value(json_object_get(node, "name")));
        fprintf(f, "]:::%s\n", json_object_get(node, "func") ? "func" : "cmd");
    }
    json_array_foreach(json_object_get(ir, "nodes"), i, node) {
        json_array_foreach(json_object_get(node, "inputs"), k, port)
            fprintf(f, "  d%lld --> n%zu\n",
                    (long long)json_integer_value(json_object_get(
                        ids, json_string_value(json_object_get(port, "dataset")))), i);
        json_array_foreach(json_object_get(node, "outputs"), k, port)
            fprintf(f, "  n%zu --> d%lld\n", i,
                    (long long)json_integer_value(json_object_get(
                        ids, json_string_value(json_object_get(port, "dataset")))));
    }
    fputs("  classDef func fill:#dbe8ff,stroke:#3b6fd8\n"
          "  classDef cmd fill:#efe3ff,stroke:#7c4dcc\n"
          "  classDef catalog fill:#e3f4e8,stroke:#2f8f4e\n"
          "  classDef memory fill:#ffffff,stroke:#7a8699,stroke-dasharray:4 3\n"
          "  classDef params fill:#fff4d6,stroke:#b7860b\n", f);
    json_decref(ids);
    json_decref(used);
}

/* --- HTML -------------------------------------------------------------------- */

/* The events file of a run: one JSON object per line.  A last line without
 * its newline may be a line the hook is still writing, and is skipped when it
 * does not parse; any other bad line is an error naming it. */
int cli_viz_read_events(const char *path, json_t **out, crun_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return crun_error_set(err, CRUN_EUSAGE, "--events: cannot open %s: %s", path,
                              strerror(errno));
    json_t *events = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    for (long lineno = 1; rc == 0 && (n = getline(&line, &cap, f)) >= 0; lineno++) {
        bool complete = n > 0 && line[n - 1] == '\n';
        if (strspn(line, " \t\r\n") == (size_t)n)
            continue;
        json_error_t jerr;
        json_t *ev = json_loads(line, JSON_DISABLE_EOF_CHECK, &jerr);
        if (json_is_object(ev) && json_is_string(json_object_get(ev, "event"))) {
            json_array_append_new(events, ev);
        } else if (complete) {
            rc = crun_error_set(err, CRUN_EUSAGE, "%s:%ld: not an event (a JSON object with "
                                "\"event\"): %s", path, lineno, ev ? "missing \"event\"" : jerr.text);
            json_decref(ev);
        } else {
            json_decref(ev);
        }
    }
    if (rc == 0 && ferror(f))
        rc = crun_error_set(err, CRUN_EIO, "--events: reading %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (rc)
        json_decref(events);
    else
        *out = events;
    return rc;
}

/* JSON inside <script>: '<', '>' and '&' only occur in strings, where the
 * \u escapes mean the same, and then no "</script>" can end the element. */
static void html_json(FILE *f, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    for (const char *p = text ? text : "null"; *p; p++) {
        if (*p == '<')
            fputs("\\u003c", f);
        else if (*p == '>')
            fputs("\\u003e", f);
        else if (*p == '&')
            fputs("\\u0026", f);
        else
            fputc(*p, f);
    }
    free(text);
}

static void write_html(FILE *f, json_t *ir, json_t *events)
{
    fputs(cli_viz_page_head, f);
    fputs("<script type=\"application/json\" id=\"crun-ir\">", f);
    html_json(f, ir);
    fputs("</script>\n<script type=\"application/json\" id=\"crun-events\">", f);
    html_json(f, events ? events : json_null());
    fputs("</script>\n", f);
    fputs(cli_viz_page_tail, f);
}

/* --- the command ----------------------------------------------------------------- */

static const char *format_from_output(const char *output)
{
    static const char *const map[][2] = {
        {".dot", "dot"}, {".gv", "dot"}, {".mmd", "mermaid"}, {".mermaid", "mermaid"},
        {".html", "html"}, {".htm", "html"},
    };
    const char *dot = output ? strrchr(output, '.') : NULL;
    for (size_t i = 0; dot && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(dot, map[i][0]) == 0)
            return map[i][1];
    return "dot";
}

/* The file the project's events hook writes (its `path` option, as the
 * hook takes it: relative to the folder crun runs in), or NULL when the
 * project has no events hook writing to a file.  A new string. */
static char *hook_events_path(crun_session *s)
{
    json_t *hooks = NULL;
    crun_error err = CRUN_ERROR_INIT;
    char *path = NULL;
    if (crun_session_list(s, "hooks", &hooks, &err) == 0) {
        size_t i;
        json_t *h;
        json_array_foreach(hooks, i, h) {
            const char *name = json_string_value(json_object_get(h, "name"));
            const char *base = name ? strrchr(name, '/') : NULL;
            base = base ? base + 1 : name;
            const char *p = json_string_value(json_object_get(json_object_get(h, "options"), "path"));
            if (!path && base && (strcmp(base, "events") == 0 || strcmp(base, "events.so") == 0) &&
                p && p[0] && strcmp(p, "-") != 0)
                path = strdup(p);
        }
    }
    crun_error_clear(&err);
    json_decref(hooks);
    return path;
}

int cli_viz(cli *c, crun_session *s, crun_error *err)
{
    if (c->what)
        return usage_error("unexpected argument '%s' (crun viz takes options only)", c->what);
    const char *format = c->format ? c->format : format_from_output(c->output);
    if (strcmp(format, "dot") != 0 && strcmp(format, "mermaid") != 0 && strcmp(format, "html") != 0)
        return usage_error("crun viz: --format must be dot, mermaid or html, got '%s'", format);
    if (c->serve && (c->format || c->output))
        return usage_error("%s", "crun viz --serve serves the html page: no --format or -o");
    if (c->port && !c->serve)
        return usage_error("%s", "--port needs --serve");
    if (c->serve)
        format = "html";
    if (c->events && strcmp(format, "html") != 0)
        return usage_error("%s", "--events needs --format html (the page colours nodes by the run)");
    char *found = NULL;
    if (c->serve && !c->events && (found = hook_events_path(s)))
        c->events = found; /* the project's events hook's file */
    json_t *events = NULL, *ir = NULL;
    if (c->events && !c->serve && cli_viz_read_events(c->events, &events, err) != 0)
        return report(err);
    if (crun_session_compile(s, &c->filter, &ir, err) != 0) {
        json_decref(events);
        return report(err);
    }
    if (c->serve)
        events = json_string("serve"); /* the page asks the server for them */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        if (format[0] == 'd')
            write_dot(f, ir);
        else if (format[0] == 'm')
            write_mermaid(f, ir);
        else
            write_html(f, ir, events);
        if (fclose(f) != 0) {
            free(text);
            text = NULL;
        }
    }
    json_decref(ir);
    json_decref(events);
    if (text && c->serve) { /* it reports its errors and returns the exit status */
        int status = cli_viz_serve(c, text, len, err);
        free(text);
        if (found)
            c->events = NULL;
        free(found);
        return status;
    }
    free(found);
    int rc = text ? cli_write_output(c, text, err) : crun_error_set(err, CRUN_ENOMEM, "out of memory");
    free(text);
    return rc ? report(err) : EXIT_OK;
}
