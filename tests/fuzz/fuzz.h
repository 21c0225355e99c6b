/* fuzz.h - the readers fuzz_conf runs besides the configuration and the IR:
 * each takes one libFuzzer input, and a crash, a sanitizer report or a leak
 * is a finding. */
#ifndef CRUN_FUZZ_H
#define CRUN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* fuzz_csv.c: the csv dataset's reader (options from the first byte). */
void fuzz_csv(const uint8_t *data, size_t size);
/* fuzz_plugin.c: the host's checks of a plugin descriptor and its tables. */
void fuzz_plugin(const uint8_t *data, size_t size);

#endif
