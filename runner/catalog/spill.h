/* spill.h - memory datasets handed from one crun process to another.
 *
 * When a run is one part of a larger run (a cluster job running one node
 * with --run-id), a memory dataset made in one job and read in another is
 * written to <project>/.crun/runs/<run id>/<name>.crv in a self-describing
 * format, and read back there.  This is a dataset type of libcrun's own,
 * used by the catalog for such datasets only.
 */
#ifndef CRUN_SPILL_H
#define CRUN_SPILL_H

#include "crun/dataset.h"

/* Options: {"path": FILE}.  Keeps the value in memory too, for consumers in
 * the same process; release drops that copy, never the file. */
extern const crun_dataset_type spill_type;

/* The file format: a header line "crun-value 1 KIND [MEDIA-TYPE]\n", then
 * bytes as they are, JSON text, or a table as JSON
 * {"columns": [{"name", "type"}], "rows": [[...]]} (null = missing). */
int spill_encode(const crun_value *v, char **out, size_t *len, crun_error *err);
int spill_decode(const char *data, size_t len, const char *what, crun_value **out,
                 crun_error *err);

#endif
