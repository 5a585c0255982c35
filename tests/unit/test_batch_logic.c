/* test_batch_logic.c — the settlement batch's pure parts: top-N ranking (docs/rules.md "Top-N ...
 * Ties break by video id ascending"), the packed partial aggregates and the per-video map.
 *
 * The batch's sources are compiled into this test directly (they are not in a library the unit
 * tests link). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testsupport.h"

#include "../../batch/partial.c"
#include "../../batch/topn.c"
#include "../../batch/vmap.c"

/* One parsed video_top row. */
typedef struct top_row {
    int kind, metric, rank;
    char start[11];
    uint64_t scope, video;
    int64_t value;
} top_row;

/* Parses bulk_buf text rows "kind\tstart\tmetric\tscope\trank\tvideo\tvalue\n". */
static size_t parse_rows(const bulk_buf *b, top_row *rows, size_t max)
{
    size_t n = 0;
    char *text = strndup(b->data, b->len), *save = NULL;

    for (char *line = strtok_r(text, "\n", &save); line != NULL && n < max;
         line = strtok_r(NULL, "\n", &save)) {
        top_row *r = &rows[n++];
        unsigned long long scope, video;
        long long value;

        assert_int_equal(sscanf(line, "%d\t%10s\t%d\t%llu\t%d\t%llu\t%lld", &r->kind, r->start,
                                &r->metric, &scope, &r->rank, &video, &value),
                         7);
        r->scope = scope;
        r->video = video;
        r->value = value;
    }
    free(text);
    return n;
}

/* Equal values rank the lower video id first; the global ranking uses creator scope 0. */
static void test_top_n_ties_break_by_video_id_ascending(void **state)
{
    topn_item items[] = {{30, 7, 50}, {10, 7, 50}, {20, 8, 90}, {40, 8, 50}};
    bulk_buf b = {0};
    top_row rows[16];
    size_t n;

    topn_rows(items, 4, 1, "2026-11-23", 1, NULL, 0, &b);
    n = parse_rows(&b, rows, 16);
    assert_int_equal(n, 4 + 4); /* global 4, creator 7: 2, creator 8: 2 */
    assert_int_equal(rows[0].scope, 0);
    assert_int_equal(rows[0].video, 20);
    assert_int_equal(rows[1].video, 10);
    assert_int_equal(rows[2].video, 30);
    assert_int_equal(rows[3].video, 40);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rows[i].rank, i + 1);
    /* creator 7's own ranking: 10 before 30 */
    assert_int_equal(rows[4].scope, 7);
    assert_int_equal(rows[4].video, 10);
    assert_int_equal(rows[4].rank, 1);
    assert_int_equal(rows[5].video, 30);
    assert_int_equal(rows[5].rank, 2);
    assert_int_equal(rows[6].scope, 8);
    assert_int_equal(rows[6].video, 20);
    assert_string_equal(rows[6].start, "2026-11-23");
    bulk_buf_free(&b);
}

/* At most 100 ranks per scope (docs/rules.md: max 100); zero values and unknown creators (0) are
 * not ranked per creator. */
static void test_top_n_keeps_100_ranks_and_skips_zero_values(void **state)
{
    topn_item items[150];
    bulk_buf b = {0};
    top_row *rows = calloc(400, sizeof *rows);
    size_t n, global = 0, creator = 0;

    for (int i = 0; i < 150; i++) {
        items[i].video_id = (uint64_t)i + 1;
        items[i].creator_id = i < 120 ? 5 : 0;
        items[i].value = i < 140 ? 1000 - i : 0;
    }
    topn_rows(items, 150, 2, "2026-11-23", 2, NULL, 0, &b);
    n = parse_rows(&b, rows, 400);
    for (size_t i = 0; i < n; i++) {
        assert_true(rows[i].value > 0);
        assert_true(rows[i].rank >= 1 && rows[i].rank <= 100);
        if (rows[i].scope == 0)
            global++;
        else
            creator++;
        assert_true(rows[i].scope == 0 || rows[i].scope == 5);
    }
    assert_int_equal(global, 100);
    assert_int_equal(creator, 100);
    assert_int_equal(rows[0].video, 1); /* the highest value */
    free(rows);
    bulk_buf_free(&b);
}

/* A partial record round-trips any int64 and the full range of video ids, byte order fixed. */
static void test_partial_record_round_trips(void **state)
{
    const int64_t values[PARTIAL_VALUES] = {INT64_MAX, -1, 0, 123456789012345};
    int64_t back[PARTIAL_VALUES];
    uint8_t rec[PARTIAL_RECORD_BYTES];
    uint64_t video = 0;

    partial_encode(UINT64_C(0xfedcba9876543210), values, rec);
    assert_int_equal(rec[0], 0x10); /* little-endian */
    assert_int_equal(rec[7], 0xfe);
    partial_decode(rec, &video, back);
    assert_true(video == UINT64_C(0xfedcba9876543210));
    for (int k = 0; k < PARTIAL_VALUES; k++)
        assert_true(back[k] == values[k]);
}

/* The map keeps one entry per video however many rows fold into it, and sorts them by id. */
static void test_vmap_memory_grows_with_videos_not_rows(void **state)
{
    vmap m;
    vmap_entry *sorted;
    size_t capacity;

    assert_int_equal(vmap_init(&m, 16, 0), VS_OK);
    for (int row = 0; row < 200000; row++) {
        vmap_entry *e = vmap_upsert(&m, (uint64_t)(row % 3000) * 7 + 1);

        assert_non_null(e);
        e->v[0] += 1;
    }
    assert_int_equal(m.count, 3000);
    capacity = m.capacity;
    for (int row = 0; row < 200000; row++)
        vmap_upsert(&m, (uint64_t)(row % 3000) * 7 + 1)->v[0] += 1;
    assert_int_equal(m.capacity, capacity);
    assert_non_null(vmap_find(&m, 8));
    assert_null(vmap_find(&m, 9));
    sorted = vmap_sorted(&m);
    for (size_t i = 0; i < 3000; i++) {
        assert_int_equal(sorted[i].video_id, i * 7 + 1);
        assert_true(sorted[i].v[0] == 2 * (200000 / 3000 + (i < 200000 % 3000)));
    }
    vmap_free(&m);
}

/* A map with a cap refuses the video beyond it instead of growing. */
static void test_vmap_refuses_beyond_its_cap(void **state)
{
    vmap m;

    assert_int_equal(vmap_init(&m, 4, 2), VS_OK);
    assert_non_null(vmap_upsert(&m, 1));
    assert_non_null(vmap_upsert(&m, 2));
    assert_non_null(vmap_upsert(&m, 1));
    assert_null(vmap_upsert(&m, 3));
    vmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_n_ties_break_by_video_id_ascending),
        cmocka_unit_test(test_top_n_keeps_100_ranks_and_skips_zero_values),
        cmocka_unit_test(test_partial_record_round_trips),
        cmocka_unit_test(test_vmap_memory_grows_with_videos_not_rows),
        cmocka_unit_test(test_vmap_refuses_beyond_its_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
