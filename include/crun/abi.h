/* crun/abi.h - the ABI's version and how structs that cross it are read.
 *
 * Every struct that passes between libcrun and a plugin or an embedding
 * program starts with `uint32_t size`, set by whoever fills it to
 * sizeof(the struct) as that side was built (the *_INIT macros and
 * CRUN_PLUGIN_HEAD do it).  A minor version only appends members at the end
 * of such structs and appends functions to the library; it never moves,
 * removes or retypes anything.  So whoever receives a struct reads its size
 * and, for each member, CRUN_HAS_MEMBER tells whether the sender knew it;
 * a member the sender did not know takes its documented default.
 *
 * A major version is a break: the host refuses a plugin of another major
 * (and one built for a newer minor than its own), naming both versions.
 */
#ifndef CRUN_ABI_H
#define CRUN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define CRUN_ABI_MAJOR 2
#define CRUN_ABI_MINOR 1

/* The size of type up to and including member. */
#define CRUN_SIZE_THROUGH(type, member)                                         \
    (offsetof(type, member) + sizeof(((type *)0)->member))

/* Does the struct at ptr (of type, whose first member is `uint32_t size`)
 * hold member, i.e. was it filled by a side that knew the member? */
#define CRUN_HAS_MEMBER(ptr, type, member)                                      \
    ((size_t)(ptr)->size >= CRUN_SIZE_THROUGH(type, member))

#endif
