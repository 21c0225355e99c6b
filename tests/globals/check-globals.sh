#!/usr/bin/env bash
# Fail when a shared object defines writable global or static data: symbols
# in .data, .bss, .tdata or .tbss other than the ones the toolchain adds.
#
# Constant tables that hold pointers (plugin descriptors, option lists) live
# in .data.rel.ro: the dynamic linker relocates them and then makes them
# read-only (RELRO; we link with -z relro -z now).  `nm` shows them as 'd'
# like real data, so this check reads section names instead (see
# docs/design-decisions.md, "No writable globals").
# Usage: check-globals.sh FILE.so...
set -u
toolchain='^(completed\.[0-9]+|__dso_handle|__TMC_END__|_edata|_end|__bss_start|__data_start|data_start|_DYNAMIC|_GLOBAL_OFFSET_TABLE_)$'
found=0
for so in "$@"; do
  while read -r section name; do
    if [[ ! $name =~ $toolchain ]]; then
      echo "$so: writable $section symbol: $name"
      found=1
    fi
  done < <(objdump -t "$so" | awk '$0 ~ / (\.data|\.bss|\.tdata|\.tbss)\t/ { for (i = 1; i <= NF; i++) if ($i ~ /^\.(data|bss|tdata|tbss)$/) print $i, $NF }')
done
exit $found
