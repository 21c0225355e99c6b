/* records.c - the answers of recent runs, for GET /v1/runs/{id}.
 *
 * A ring of keep_runs slots under one mutex: adding overwrites the oldest
 * (in the slot's own buffer), finding scans from the newest (the id asked
 * for is usually recent).  A
 * slot keeps the answer exactly as it was sent, so GET /v1/runs/{id} repeats
 * POST /v1/runs's body and status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

int svc_records_init(svc_records *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->cap = cap;
    if (cap && !(r->ring = calloc(cap, sizeof(svc_record))))
        return CRUN_ENOMEM;
    return 0;
}

void svc_records_destroy(svc_records *r)
{
    for (size_t i = 0; r->ring && i < r->cap; i++)
        free(r->ring[i].body);
    free(r->ring);
    pthread_mutex_destroy(&r->lock);
    memset(r, 0, sizeof(*r));
}

void svc_records_add(svc_records *r, const char *id, unsigned http_status, const char *body)
{
    if (!r->cap || !id || !body)
        return;
    size_t len = strlen(body), id_len = strlen(id);
    if (id_len >= sizeof(r->ring[0].id))
        id_len = sizeof(r->ring[0].id) - 1;
    pthread_mutex_lock(&r->lock);
    svc_record *slot = &r->ring[r->next];
    /* a slot keeps its buffer: once the ring has gone round, answers are
     * copied in place, without an allocation (or a free of memory another
     * thread allocated) per request */
    if (len + 1 > slot->body_cap) {
        char *grown = realloc(slot->body, len + 1);
        if (!grown) {
            pthread_mutex_unlock(&r->lock);
            return;
        }
        slot->body = grown;
        slot->body_cap = len + 1;
    }
    memcpy(slot->body, body, len + 1);
    memcpy(slot->id, id, id_len);
    slot->id[id_len] = '\0';
    slot->http_status = http_status;
    r->next = (r->next + 1) % r->cap;
    if (r->count < r->cap)
        r->count++;
    pthread_mutex_unlock(&r->lock);
}

char *svc_records_find(svc_records *r, const char *id, unsigned *http_status)
{
    char *found = NULL;
    pthread_mutex_lock(&r->lock);
    for (size_t k = 1; k <= r->count && !found; k++) {
        svc_record *slot = &r->ring[(r->next + r->cap - k) % r->cap];
        if (strcmp(slot->id, id) == 0) {
            found = strdup(slot->body);
            *http_status = slot->http_status;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}
