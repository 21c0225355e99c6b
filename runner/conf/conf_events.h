/* conf_events.h - libyaml's events of a large text, parsed on a second thread.
 *
 * Reading a pipelines file of 100,000 nodes is mostly libyaml turning the
 * text into events; crun's reader turning events into nodes is the rest.  A
 * conf_events runs libyaml on a thread of its own, ahead of the reader, so
 * the two overlap on two CPUs.  The parsing thread copies each event into a
 * compact record in a ring of chunks and frees it at once: every allocation
 * of libyaml is freed on the thread that made it, and the reader reads the
 * records in order from memory that streams between the CPUs.
 *
 * The reader sees exactly the events, in the order, that yaml_parser_parse
 * would give it, with one difference: a DOCUMENT-START event carries no
 * version or tag directives (libyaml has applied them already: the tags of
 * the events are resolved).  An event's strings stay valid until the next
 * call of conf_events_next.  A conf_events belongs to one reader thread.
 */
#ifndef CRUN_CONF_EVENTS_H
#define CRUN_CONF_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

/* Texts this long or longer are worth a thread (about 10 ms of parsing); up
 * to a gigabyte, so that every mark and length fits a record's 32 bits even
 * when libyaml turns UTF-16 into UTF-8 (at most 1.5 times the bytes). */
enum { CONF_EVENTS_MIN_TEXT = 1 << 20, CONF_EVENTS_MAX_TEXT = 1 << 30 };

typedef struct conf_events conf_events;

/* What an event holds besides its type and marks, the same for every type:
 * a STREAM-START's encoding is its style, a DOCUMENT-START's or -END's
 * implicit flag its implicit, an ALIAS's name its anchor.  The records of
 * conf_events and of conf_cache (conf_cache.h) keep these. */
typedef struct conf_event_fields {
    const yaml_char_t *anchor, *tag, *value; /* value: SCALAR only */
    size_t length;
    int style, implicit, quoted_implicit;
} conf_event_fields;

/* The fields of ev (its strings stay ev's). */
void conf_event_fields_of(const yaml_event_t *ev, conf_event_fields *f);

/* Set the fields of ev, whose type is set, from f (pointing at f's strings). */
void conf_event_set_fields(yaml_event_t *ev, const conf_event_fields *f);

/* Whether a text of len bytes is worth a second thread: at least
 * CONF_EVENTS_MIN_TEXT, at most CONF_EVENTS_MAX_TEXT, and
 * this process may run on more than one CPU. */
bool conf_events_worth(size_t len);

/* Start parsing with parser (its input set, nothing parsed yet) on a new
 * thread.  The parser belongs to the thread until conf_events_stop.
 * NULL when no thread could be started: parse in the caller's thread then. */
conf_events *conf_events_start(yaml_parser_t *parser);

/* The next event, into ev (nothing to free).  false: libyaml failed at
 * this point, and the parser's problem, context and marks say why. */
bool conf_events_next(conf_events *events, yaml_event_t *ev);

/* Stop parsing (wherever it is), wait for the thread, free everything.
 * The parser is the caller's again.  NULL is allowed. */
void conf_events_stop(conf_events *events);

#endif
