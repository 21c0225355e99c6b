/* fuzz_csv.c - the csv dataset's reader under libFuzzer (fuzz_conf's "csv").
 *
 * The first byte picks the read options (header or not, the delimiter,
 * na_values, forced column types, through csv_read_options_parse as a
 * catalog's load_args would give them); the rest is the file, read by
 * csv_table_read from a memfd (it reads a path: /proc/self/fd/N).  A table
 * read is written back (csv_table_write) and read again: with a header, the
 * round trip must keep its rows and columns.  Crashes, sanitizer reports and leaks are
 * findings; an error is the expected answer to a malformed file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "csv_parse.h"
#include "fuzz.h"

/* A memfd holding data, and its path; -1 when it cannot be made. */
static int file_of(const void *data, size_t size, char *path, size_t path_size)
{
    int fd = memfd_create("fuzz.csv", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    const char *p = data;
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, p + done, size - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

static json_t *load_args(uint8_t flags)
{
    static const char *const delimiters[] = {",", ";", "\t", "|"};
    json_t *args = json_pack("{s:b, s:s}", "header", (int)(flags & 1), "delimiter",
                             delimiters[(flags >> 1) & 3]);
    if (args && (flags & 8))
        json_object_set_new(args, "na_values", json_pack("[s, s, s]", "NA", "", "n/a"));
    if (args && (flags & 16))
        json_object_set_new(args, "columns", json_pack("{s:s, s:s, s:s}", "a", "int64", "b",
                                                       "double", "1", "string"));
    return args;
}

static crun_table *read_text(const void *data, size_t size, const csv_read_options *opts)
{
    char path[64];
    int fd = file_of(data, size, path, sizeof(path));
    if (fd < 0)
        return NULL;
    crun_table *t = NULL;
    crun_error err = CRUN_ERROR_INIT;
    if (csv_table_read(path, opts, &t, &err) != 0)
        t = NULL;
    crun_error_clear(&err);
    close(fd);
    return t;
}

void fuzz_csv(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    csv_read_options opts;
    csv_read_options_init(&opts);
    json_t *args = load_args(data[0]);
    crun_error err = CRUN_ERROR_INIT;
    if (!args || csv_read_options_parse(args, "fuzz", "load_args", &opts, &err) != 0)
        abort(); /* the fixed options always parse */
    json_decref(args);
    crun_table *t = read_text(data + 1, size - 1, &opts);
    if (t) {
        csv_write_options wopts;
        csv_write_options_init(&wopts);
        wopts.delimiter = opts.delimiter;
        wopts.header = opts.header;
        char *text = NULL;
        size_t len = 0;
        if (csv_table_write(t, &wopts, &text, &len, &err) == 0) {
            crun_table *back = read_text(text, len, &opts);
            /* with a header, what crun wrote crun reads, as many rows and
             * columns (without one, a one-column table's first missing
             * cells are blank lines before the first row, which are
             * skipped: see docs/catalog.md) */
            if (opts.header && crun_table_columns(t) &&
                (!back || crun_table_columns(back) != crun_table_columns(t) ||
                 crun_table_rows(back) != crun_table_rows(t)))
                abort();
            crun_table_free(back);
        }
        free(text);
        crun_table_free(t);
    }
    crun_error_clear(&err);
    csv_read_options_clear(&opts);
}
