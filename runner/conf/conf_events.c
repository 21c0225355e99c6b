/* conf_events.c - libyaml's events of a large text, parsed on a second thread.
 *
 * The parsing thread fills chunks of records, one record per event (a
 * header with the event's type, marks and flags, then its anchor, tag and
 * value with their NULs), and hands each chunk over when the next record
 * does not fit.  The reader decodes records into yaml_event_t views of the
 * chunk and gives the chunk back when it moves on to the next one.  Both
 * sides meet under one mutex once per chunk (about a thousand events), so
 * neither the locking nor the waiting shows next to the parsing.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_events.h"

enum { CHUNK = 64 * 1024, CHUNKS = 8, WAKE_AFTER = 4 };

enum { RUNNING, ENDED, FAILED };

/* Texts of at most CONF_EVENTS_MAX_TEXT (conf_events_worth): every mark and
 * length fits in 32 bits, and records stay small. */
typedef struct record {
    uint32_t size; /* of the whole record, a multiple of 8 */
    uint32_t value_len;
    uint32_t start[3], end[3]; /* index, line, column */
    uint32_t anchor_len, tag_len; /* with the NUL; 0: none */
    uint16_t type, style;
    uint8_t implicit, plain_implicit, quoted_implicit;
} record;

static void put_mark(uint32_t to[3], const yaml_mark_t *m)
{
    to[0] = (uint32_t)m->index;
    to[1] = (uint32_t)m->line;
    to[2] = (uint32_t)m->column;
}

static yaml_mark_t get_mark(const uint32_t from[3])
{
    return (yaml_mark_t){.index = from[0], .line = from[1], .column = from[2]};
}

typedef struct chunk {
    unsigned char *data;
    size_t len, cap;
} chunk;

struct conf_events {
    yaml_parser_t *parser;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t filled_more; /* the reader waits for a chunk */
    pthread_cond_t freed_more;  /* the parser waits for a free chunk */
    /* under lock */
    size_t filled; /* chunks handed to the reader */
    size_t freed;  /* chunks the reader gave back */
    size_t wanted; /* the reader sleeps until this many are filled (0: it runs) */
    int state;     /* RUNNING, then ENDED or FAILED once filled is final */
    bool stop;     /* the reader gave up */
    /* the reader's */
    size_t at;     /* the chunk being read (a count, like filled) */
    size_t pos;    /* where in it */
    bool holding;  /* chunk `at` is the reader's */
    chunk ring[CHUNKS];
};

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static uint32_t text_len(const yaml_char_t *s)
{
    return s ? (uint32_t)strlen((const char *)s) + 1 : 0;
}

static void put_text(unsigned char **at, const yaml_char_t *s, size_t n)
{
    if (n) {
        memcpy(*at, s, n);
        *at += n;
    }
}

void conf_event_fields_of(const yaml_event_t *ev, conf_event_fields *f)
{
    *f = (conf_event_fields){0};
    switch (ev->type) {
    case YAML_STREAM_START_EVENT:
        f->style = (int)ev->data.stream_start.encoding;
        break;
    case YAML_DOCUMENT_START_EVENT:
        f->implicit = ev->data.document_start.implicit;
        break;
    case YAML_DOCUMENT_END_EVENT:
        f->implicit = ev->data.document_end.implicit;
        break;
    case YAML_ALIAS_EVENT:
        f->anchor = ev->data.alias.anchor;
        break;
    case YAML_SCALAR_EVENT:
        f->anchor = ev->data.scalar.anchor;
        f->tag = ev->data.scalar.tag;
        f->value = ev->data.scalar.value;
        f->length = ev->data.scalar.length;
        f->implicit = ev->data.scalar.plain_implicit;
        f->quoted_implicit = ev->data.scalar.quoted_implicit;
        f->style = (int)ev->data.scalar.style;
        break;
    case YAML_SEQUENCE_START_EVENT:
        f->anchor = ev->data.sequence_start.anchor;
        f->tag = ev->data.sequence_start.tag;
        f->implicit = ev->data.sequence_start.implicit;
        f->style = (int)ev->data.sequence_start.style;
        break;
    case YAML_MAPPING_START_EVENT:
        f->anchor = ev->data.mapping_start.anchor;
        f->tag = ev->data.mapping_start.tag;
        f->implicit = ev->data.mapping_start.implicit;
        f->style = (int)ev->data.mapping_start.style;
        break;
    default:
        break;
    }
}

void conf_event_set_fields(yaml_event_t *ev, const conf_event_fields *f)
{
    yaml_char_t *anchor = (yaml_char_t *)f->anchor, *tag = (yaml_char_t *)f->tag;
    switch (ev->type) {
    case YAML_STREAM_START_EVENT:
        ev->data.stream_start.encoding = (yaml_encoding_t)f->style;
        break;
    case YAML_DOCUMENT_START_EVENT:
        ev->data.document_start.implicit = f->implicit;
        break;
    case YAML_DOCUMENT_END_EVENT:
        ev->data.document_end.implicit = f->implicit;
        break;
    case YAML_ALIAS_EVENT:
        ev->data.alias.anchor = anchor;
        break;
    case YAML_SCALAR_EVENT:
        ev->data.scalar.anchor = anchor;
        ev->data.scalar.tag = tag;
        ev->data.scalar.value = (yaml_char_t *)f->value;
        ev->data.scalar.length = f->length;
        ev->data.scalar.plain_implicit = f->implicit;
        ev->data.scalar.quoted_implicit = f->quoted_implicit;
        ev->data.scalar.style = (yaml_scalar_style_t)f->style;
        break;
    case YAML_SEQUENCE_START_EVENT:
        ev->data.sequence_start.anchor = anchor;
        ev->data.sequence_start.tag = tag;
        ev->data.sequence_start.implicit = f->implicit;
        ev->data.sequence_start.style = (yaml_sequence_style_t)f->style;
        break;
    case YAML_MAPPING_START_EVENT:
        ev->data.mapping_start.anchor = anchor;
        ev->data.mapping_start.tag = tag;
        ev->data.mapping_start.implicit = f->implicit;
        ev->data.mapping_start.style = (yaml_mapping_style_t)f->style;
        break;
    default:
        break;
    }
}

/* The record header of ev, its size included (f: its fields). */
static record describe(const yaml_event_t *ev, conf_event_fields *f)
{
    record h = {.type = (uint16_t)ev->type};
    put_mark(h.start, &ev->start_mark);
    put_mark(h.end, &ev->end_mark);
    conf_event_fields_of(ev, f);
    h.style = (uint16_t)f->style;
    h.implicit = (uint8_t)f->implicit;
    h.plain_implicit = (uint8_t)f->implicit;
    h.quoted_implicit = (uint8_t)f->quoted_implicit;
    h.value_len = (uint32_t)f->length;
    h.anchor_len = text_len(f->anchor);
    h.tag_len = text_len(f->tag);
    h.size = (uint32_t)round8(sizeof(h) + h.anchor_len + h.tag_len +
                              (f->value ? h.value_len + 1 : 0));
    return h;
}

/* The event as a record at the end of c: false when c has no room. */
static bool put_event(chunk *c, const yaml_event_t *ev)
{
    conf_event_fields f;
    record h = describe(ev, &f);
    if (c->cap - c->len < h.size)
        return false;
    unsigned char *at = c->data + c->len;
    memcpy(at, &h, sizeof(h));
    at += sizeof(h);
    put_text(&at, f.anchor, h.anchor_len);
    put_text(&at, f.tag, h.tag_len);
    if (f.value) {
        put_text(&at, f.value, h.value_len);
        *at = 0;
    }
    c->len += h.size;
    return true;
}

/* An empty chunk big enough for ev (a scalar larger than a chunk gets a
 * chunk its size). */
static bool make_room(chunk *c, const yaml_event_t *ev)
{
    conf_event_fields f;
    size_t need = describe(ev, &f).size;
    if (c->cap >= need)
        return true;
    unsigned char *data = realloc(c->data, need);
    if (!data)
        return false;
    c->data = data;
    c->cap = need;
    return true;
}

/* The next empty chunk, once the reader has given one back; NULL: stop. */
static chunk *next_chunk(conf_events *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->filled - p->freed >= CHUNKS && !p->stop)
        pthread_cond_wait(&p->freed_more, &p->lock);
    chunk *c = p->stop ? NULL : &p->ring[p->filled % CHUNKS];
    pthread_mutex_unlock(&p->lock);
    if (c)
        c->len = 0;
    return c;
}

static void hand_over(conf_events *p, int state)
{
    pthread_mutex_lock(&p->lock);
    p->filled++;
    p->state = state;
    if (p->wanted && (p->filled >= p->wanted || state != RUNNING))
        pthread_cond_signal(&p->filled_more);
    pthread_mutex_unlock(&p->lock);
}

static void *parse_main(void *arg)
{
    conf_events *p = arg;
    chunk *c = next_chunk(p);
    int state = RUNNING;
    while (c && state == RUNNING) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p->parser, &ev)) {
            state = FAILED;
            break;
        }
        if (!put_event(c, &ev)) {
            hand_over(p, RUNNING);
            if ((c = next_chunk(p)) && (!make_room(c, &ev) || !put_event(c, &ev))) {
                p->parser->error = YAML_MEMORY_ERROR;
                p->parser->problem = "out of memory";
                p->parser->problem_mark = ev.start_mark;
                state = FAILED;
            }
        }
        if (ev.type == YAML_STREAM_END_EVENT && state == RUNNING)
            state = ENDED;
        yaml_event_delete(&ev);
    }
    if (c)
        hand_over(p, state);
    return NULL;
}

bool conf_events_worth(size_t len)
{
    if (len < CONF_EVENTS_MIN_TEXT || len > CONF_EVENTS_MAX_TEXT)
        return false;
    /* on one CPU a second thread would only add its own work */
    cpu_set_t cpus;
    return sched_getaffinity(0, sizeof(cpus), &cpus) != 0 || CPU_COUNT(&cpus) > 1;
}

conf_events *conf_events_start(yaml_parser_t *parser)
{
    conf_events *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->parser = parser;
    for (size_t i = 0; i < CHUNKS; i++) {
        if (!(p->ring[i].data = malloc(CHUNK)))
            break;
        p->ring[i].cap = CHUNK;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->filled_more, NULL);
    pthread_cond_init(&p->freed_more, NULL);
    if (!p->ring[CHUNKS - 1].data || pthread_create(&p->thread, NULL, parse_main, p) != 0) {
        for (size_t i = 0; i < CHUNKS; i++)
            free(p->ring[i].data);
        pthread_cond_destroy(&p->freed_more);
        pthread_cond_destroy(&p->filled_more);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

static const yaml_char_t *take_text(const unsigned char **at, uint32_t n)
{
    const yaml_char_t *s = n ? *at : NULL;
    *at += n;
    return s;
}

static void get_event(const unsigned char *at, yaml_event_t *ev)
{
    record h;
    memcpy(&h, at, sizeof(h));
    at += sizeof(h);
    memset(ev, 0, sizeof(*ev));
    ev->type = (yaml_event_type_t)h.type;
    ev->start_mark = get_mark(h.start);
    ev->end_mark = get_mark(h.end);
    conf_event_fields f = {.style = h.style, .length = h.value_len,
                           .quoted_implicit = h.quoted_implicit};
    f.implicit = h.type == YAML_SCALAR_EVENT ? h.plain_implicit : h.implicit;
    f.anchor = take_text(&at, h.anchor_len);
    f.tag = take_text(&at, h.tag_len);
    f.value = at;
    conf_event_set_fields(ev, &f);
}

bool conf_events_next(conf_events *p, yaml_event_t *ev)
{
    for (;;) {
        if (p->holding) {
            chunk *c = &p->ring[p->at % CHUNKS];
            if (p->pos < c->len) {
                uint32_t size;
                memcpy(&size, c->data + p->pos, sizeof(size));
                get_event(c->data + p->pos, ev);
                p->pos += size;
                return true;
            }
            pthread_mutex_lock(&p->lock);
            p->freed++;
            pthread_cond_signal(&p->freed_more);
            pthread_mutex_unlock(&p->lock);
            p->holding = false;
            p->at++;
        }
        pthread_mutex_lock(&p->lock);
        if (p->filled <= p->at) { /* caught up: sleep until a few chunks wait */
            p->wanted = p->at + WAKE_AFTER;
            while (p->filled < p->wanted && p->state == RUNNING)
                pthread_cond_wait(&p->filled_more, &p->lock);
            p->wanted = 0;
        }
        p->holding = p->filled > p->at;
        pthread_mutex_unlock(&p->lock);
        if (!p->holding) /* the parser stopped: past STREAM-END, or where it failed */
            return false;
        p->pos = 0;
    }
}

void conf_events_stop(conf_events *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->freed_more);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < CHUNKS; i++)
        free(p->ring[i].data);
    pthread_cond_destroy(&p->freed_more);
    pthread_cond_destroy(&p->filled_more);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
