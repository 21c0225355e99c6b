/* crun/crun.h - everything: include this one header.
 *
 *   abi.h      the ABI version, sized structs and CRUN_HAS_MEMBER
 *   error.h    codes, crun_error
 *   log.h      logging through the host
 *   value.h    values and tables passed between nodes
 *   files.h    atomic file writes and reads
 *   options.h  plugin options: declaring, reading
 *   plugin.h   the plugin descriptor
 *   node.h     node libraries and the call context
 *   dataset.h  dataset types and the file-backed dataset helpers
 *   hooks.h    hook plugins
 *   runner.h   runner plugins and the run API
 *   session.h  embedding: open a project, compile, run
 *   partitions.h  the value of a partitioned dataset
 */
#ifndef CRUN_CRUN_H
#define CRUN_CRUN_H

#include "abi.h"
#include "error.h"
#include "log.h"
#include "value.h"
#include "files.h"
#include "options.h"
#include "plugin.h"
#include "node.h"
#include "dataset.h"
#include "hooks.h"
#include "runner.h"
#include "session.h"
#include "partitions.h"

#endif
