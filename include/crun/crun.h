/* crun/crun.h - everything: include this one header.
 *
 *   error.h    codes, crun_error
 *   value.h    values and tables passed between nodes
 *   options.h  plugin options: declaring, reading
 *   plugin.h   the plugin descriptor, logging
 *   node.h     node libraries and the call context
 *   dataset.h  dataset types and file helpers
 *   hooks.h    hook plugins
 *   runner.h   runner plugins and the run API
 *   session.h  embedding: open a project, compile, run
 *   partitions.h  the value of a partitioned dataset
 */
#ifndef CRUN_CRUN_H
#define CRUN_CRUN_H

#include "error.h"
#include "value.h"
#include "options.h"
#include "plugin.h"
#include "node.h"
#include "dataset.h"
#include "hooks.h"
#include "runner.h"
#include "session.h"
#include "partitions.h"

#endif
