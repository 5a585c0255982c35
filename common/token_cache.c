/* token_cache.c — see token_cache.h. */
#include "token_cache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_CACHE_STRIPES 64

typedef struct token_slot {
    char *text; /* NULL: empty */
    size_t len;
    token_claims claims;
} token_slot;

struct token_cache {
    uint8_t *current, *previous; /* copies of the keys' bytes */
    token_keys keys;             /* over the copies */
    size_t n_slots;
    token_slot *slots;
    pthread_mutex_t locks[TOKEN_CACHE_STRIPES];
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    atomic_uint_fast64_t hits, misses;
};

/* A copy of n bytes (at least one byte allocated), or NULL. */
static uint8_t *token_cache_copy_key(const uint8_t *key, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);

    if (copy != NULL && n > 0)
        memcpy(copy, key, n);
    return copy;
}

static void token_cache_free_key(uint8_t *key, size_t n)
{
    if (key == NULL)
        return;
    sodium_memzero(key, n);
    free(key);
}

token_cache *token_cache_new_keys(const token_keys *keys, size_t slots)
{
    token_cache *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->keys = *keys;
    c->current = token_cache_copy_key(keys->current, keys->current_len);
    if (keys->previous != NULL)
        c->previous = token_cache_copy_key(keys->previous, keys->previous_len);
    c->slots = calloc(slots ? slots : 1, sizeof *c->slots);
    if (c->current == NULL || (keys->previous != NULL && c->previous == NULL) || c->slots == NULL) {
        token_cache_free_key(c->current, keys->current_len);
        token_cache_free_key(c->previous, keys->previous_len);
        free(c->slots);
        free(c);
        return NULL;
    }
    c->keys.current = c->current;
    c->keys.previous = c->previous;
    c->n_slots = slots;
    for (int i = 0; i < TOKEN_CACHE_STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    /* keyed: which tokens share a slot is not something a client can arrange */
    crypto_shorthash_keygen(c->hash_key);
    return c;
}

token_cache *token_cache_new(const uint8_t *key, size_t keylen, size_t slots)
{
    const token_keys keys = {.current = key, .current_len = keylen};

    return token_cache_new_keys(&keys, slots);
}

void token_cache_free(token_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_slots; i++)
        free(c->slots[i].text);
    for (int i = 0; i < TOKEN_CACHE_STRIPES; i++)
        pthread_mutex_destroy(&c->locks[i]);
    token_cache_free_key(c->current, c->keys.current_len);
    token_cache_free_key(c->previous, c->keys.previous_len);
    free(c->slots);
    free(c);
}

vs_status token_cache_verify(token_cache *c, const char *token, int64_t now_s, token_claims *out,
                             char *err, size_t errlen)
{
    uint64_t h;
    size_t len, slot;
    pthread_mutex_t *lock;
    token_slot *s;
    int hit = 0;
    vs_status rc;

    len = token != NULL ? strnlen(token, TOKEN_MAX_LEN + 1) : 0;
    if (c->n_slots == 0 || len == 0 || len > TOKEN_MAX_LEN)
        return token_verify_keys(token, &c->keys, now_s, out, err, errlen);
    crypto_shorthash((unsigned char *)&h, (const unsigned char *)token, len, c->hash_key);
    slot = (size_t)(h % c->n_slots);
    lock = &c->locks[slot % TOKEN_CACHE_STRIPES];
    s = &c->slots[slot];

    pthread_mutex_lock(lock);
    if (s->text != NULL && s->len == len && memcmp(s->text, token, len) == 0) {
        *out = s->claims;
        hit = 1;
    }
    pthread_mutex_unlock(lock);
    if (hit && token_check_times(out, now_s, err, errlen) == VS_OK) {
        atomic_fetch_add(&c->hits, 1);
        return VS_OK;
    }
    atomic_fetch_add(&c->misses, 1);
    rc = token_verify_keys(token, &c->keys, now_s, out, err, errlen);
    if (rc == VS_OK) {
        char *copy = malloc(len);

        if (copy != NULL) {
            memcpy(copy, token, len);
            pthread_mutex_lock(lock);
            free(s->text);
            s->text = copy;
            s->len = len;
            s->claims = *out;
            pthread_mutex_unlock(lock);
        }
    }
    return rc;
}

void token_cache_counts(token_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = atomic_load(&c->hits);
    *misses = atomic_load(&c->misses);
}
