/* records.c - the answers of recent runs, for GET /v1/runs/{id}.
 *
 * A ring of keep_runs slots, each with its own lock.  Adding takes the next
 * number with an atomic and overwrites the slot it falls on (in the slot's
 * own buffer), unless a newer answer is already there; finding scans from
 * the newest (the id asked for is usually recent).  Two request threads
 * adding at once take different slots, so neither waits.  A slot keeps the
 * answer exactly as it was sent, so GET /v1/runs/{id} repeats POST
 * /v1/runs's body and status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

int svc_records_init(svc_records *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    atomic_init(&r->added, 0);
    if (cap && !(r->ring = aligned_alloc(_Alignof(svc_record), cap * sizeof(svc_record))))
        return CRUN_ENOMEM;
    if (cap)
        memset(r->ring, 0, cap * sizeof(svc_record));
    r->cap = cap;
    for (size_t i = 0; i < cap; i++)
        pthread_mutex_init(&r->ring[i].lock, NULL);
    return 0;
}

void svc_records_destroy(svc_records *r)
{
    for (size_t i = 0; r->ring && i < r->cap; i++) {
        free(r->ring[i].body);
        pthread_mutex_destroy(&r->ring[i].lock);
    }
    free(r->ring);
    memset(r, 0, sizeof(*r));
}

void svc_records_add(svc_records *r, const char *id, unsigned http_status, const char *body)
{
    if (!r->cap || !id || !body)
        return;
    size_t len = strlen(body), id_len = strlen(id);
    if (id_len >= sizeof(r->ring[0].id))
        id_len = sizeof(r->ring[0].id) - 1;
    size_t seq = atomic_fetch_add(&r->added, 1) + 1;
    svc_record *slot = &r->ring[(seq - 1) % r->cap];
    pthread_mutex_lock(&slot->lock);
    if (slot->seq > seq) { /* the ring went round while this thread waited */
        pthread_mutex_unlock(&slot->lock);
        return;
    }
    /* a slot keeps its buffer: once the ring has gone round, answers are
     * copied in place, without an allocation (or a free of memory another
     * thread allocated) per request */
    if (len + 1 > slot->body_cap) {
        char *grown = realloc(slot->body, len + 1);
        if (!grown) {
            slot->seq = 0; /* forgotten rather than wrong */
            pthread_mutex_unlock(&slot->lock);
            return;
        }
        slot->body = grown;
        slot->body_cap = len + 1;
    }
    memcpy(slot->body, body, len + 1);
    memcpy(slot->id, id, id_len);
    slot->id[id_len] = '\0';
    slot->http_status = http_status;
    slot->seq = seq;
    pthread_mutex_unlock(&slot->lock);
}

char *svc_records_find(svc_records *r, const char *id, unsigned *http_status)
{
    char *found = NULL;
    size_t added = atomic_load(&r->added);
    for (size_t k = 0; k < r->cap && k < added && !found; k++) {
        svc_record *slot = &r->ring[(added - 1 - k) % r->cap];
        pthread_mutex_lock(&slot->lock);
        if (slot->seq && strcmp(slot->id, id) == 0) {
            found = strdup(slot->body);
            *http_status = slot->http_status;
        }
        pthread_mutex_unlock(&slot->lock);
    }
    return found;
}
