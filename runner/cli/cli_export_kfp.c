/* cli_export_kfp.c - `crun export kfp`: a Kubeflow Pipelines v2 PipelineSpec. */
#include "cli.h"

int cli_export_kfp(cli *c, crun_session *s, crun_error *err)
{
    (void)s;
    (void)err;
    (void)c;
    return usage_error("%s", "crun export kfp: not yet");
}
