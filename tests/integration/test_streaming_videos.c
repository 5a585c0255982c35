/* test_streaming_videos.c — CreateVideo / GetVideo / ListVideos against real MariaDB: ad
 * positions, the creator role, validation that stores nothing, idempotent creation, paging. */
#include "streaming_fixture.h"

static sf_user alice, bob;

static int setup(void **state)
{
    if (sf_setup("videos", NULL) != 0)
        return -1;
    alice = sf_new_user("alice");
    bob = sf_new_user("bob");
    return 0;
}

static int teardown(void **state)
{
    sf_free_user(&alice);
    sf_free_user(&bob);
    return sf_teardown(state);
}

static int64_t videos_of(const sf_user *u)
{
    return sf_db_int("SELECT COUNT(*) FROM videos WHERE creator_id=%" PRIu64, u->id);
}

static void test_create_video_has_ad_positions_and_makes_creator(void **state)
{
    Vs__V1__Video *v = NULL, *got = NULL;
    vs_call_status st;

    assert_int_equal(sf_db_int("SELECT role FROM users WHERE id=%" PRIu64, alice.id), 1);
    assert_int_equal(vs_video_create(alice.client, "카메라 테스트 🎬", 1000, NULL, &v, &st), VS_OK);
    assert_true(v->id > 0);
    assert_int_equal(v->creator_id, alice.id);
    assert_string_equal(v->title, "카메라 테스트 🎬");
    assert_int_equal(v->duration_s, 1000);
    assert_int_equal(v->n_ad_positions_s, 3);
    assert_int_equal(v->ad_positions_s[0], 300);
    assert_int_equal(v->ad_positions_s[1], 600);
    assert_int_equal(v->ad_positions_s[2], 900);
    assert_true(v->created_unix > 0);
    assert_int_equal(sf_db_int("SELECT role FROM users WHERE id=%" PRIu64, alice.id), 2);

    assert_int_equal(vs_video_get(bob.client, v->id, &got, &st), VS_OK);
    assert_int_equal(got->id, v->id);
    assert_string_equal(got->title, v->title);
    assert_int_equal(got->n_ad_positions_s, 3);
    sf_free(v);
    sf_free(got);
}

static void test_create_video_bad_title_or_duration_stores_nothing(void **state)
{
    char long_title[202];
    struct {
        const char *title;
        int32_t duration;
        const char *field;
    } bad[] = {
        {"", 100, "title"},      {long_title, 100, "title"},  {"\xC0\xAF", 100, "title"},
        {"ok", 0, "duration_s"}, {"ok", 86401, "duration_s"}, {"ok", -5, "duration_s"},
    };
    int64_t before = videos_of(&bob);
    Vs__V1__Video *v = NULL;
    vs_call_status st;

    memset(long_title, 'x', 201);
    long_title[201] = '\0';
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vs_video_create(bob.client, bad[i].title, bad[i].duration, NULL, &v, &st),
                         VS_INVALID_ARGUMENT);
        assert_non_null(strstr(st.message, bad[i].field));
        assert_null(v);
    }
    assert_int_equal(videos_of(&bob), before);
    assert_int_equal(sf_db_int("SELECT role FROM users WHERE id=%" PRIu64, bob.id), 1);
    /* the limits themselves are fine: 200 characters, 24 h */
    long_title[200] = '\0';
    assert_int_equal(vs_video_create(bob.client, long_title, 86400, NULL, &v, &st), VS_OK);
    assert_int_equal(v->n_ad_positions_s, 287);
    sf_free(v);
}

static void test_create_video_replay_returns_same_video(void **state)
{
    Vs__V1__Video *a = NULL, *b = NULL, *c = NULL;
    vs_call_status st;
    char id[33];

    vs_event_id(id);
    assert_int_equal(vs_video_create(alice.client, "once", 600, id, &a, &st), VS_OK);
    assert_int_equal(vs_video_create(alice.client, "once", 600, id, &b, &st), VS_OK);
    assert_int_equal(a->id, b->id);
    assert_int_equal(vs_video_create(alice.client, "twice?", 600, id, &c, &st), VS_ALREADY_EXISTS);
    assert_null(c);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM videos WHERE create_event_id='%s'", id), 1);
    sf_free(a);
    sf_free(b);
}

/* Event ids are each caller's own: another creator's CreateVideo with the same id makes its own
 * video and never answers with (or reveals) the first creator's. */
static void test_create_video_same_event_id_from_two_users_two_videos(void **state)
{
    Vs__V1__Video *a = NULL, *b = NULL, *again = NULL;
    vs_call_status st;
    char id[33];

    vs_event_id(id);
    assert_int_equal(vs_video_create(alice.client, "alice's secret", 600, id, &a, &st), VS_OK);
    assert_int_equal(vs_video_create(bob.client, "bob's own", 900, id, &b, &st), VS_OK);
    assert_true(b->id != a->id);
    assert_int_equal(b->creator_id, bob.id);
    assert_string_equal(b->title, "bob's own");
    assert_int_equal(b->duration_s, 900);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM videos WHERE create_event_id='%s'", id), 2);
    /* each replay returns its caller's first video */
    assert_int_equal(vs_video_create(alice.client, "alice's secret", 600, id, &again, &st), VS_OK);
    assert_int_equal(again->id, a->id);
    sf_free(again);
    again = NULL;
    assert_int_equal(vs_video_create(bob.client, "bob's own", 900, id, &again, &st), VS_OK);
    assert_int_equal(again->id, b->id);
    sf_free(again);
    again = NULL;
    /* alice's request with the id, from bob: compared with bob's video only (no word of alice's) */
    assert_int_equal(vs_video_create(bob.client, "alice's secret", 600, id, &again, &st),
                     VS_ALREADY_EXISTS);
    assert_null(strstr(st.message, "secret"));
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM videos WHERE create_event_id='%s'", id), 2);
    sf_free(a);
    sf_free(b);
}

static void test_create_video_unauthenticated_refused(void **state)
{
    vs_client *anon = ts_client(sf.url, 10000);
    Vs__V1__Video *v = NULL;
    vs_call_status st;

    assert_int_equal(vs_video_create(anon, "nobody's", 100, NULL, &v, &st), VS_UNAUTHENTICATED);
    vs_client_close(anon);
}

static void test_get_unknown_video_not_found(void **state)
{
    Vs__V1__Video *v = NULL;
    vs_call_status st;

    assert_int_equal(vs_video_get(alice.client, 987654321, &v, &st), VS_NOT_FOUND);
    assert_int_equal(vs_video_get(alice.client, 0, &v, &st), VS_INVALID_ARGUMENT);
}

static void test_list_videos_mine_and_pages(void **state)
{
    sf_user carol = sf_new_user("carol");
    Vs__V1__ListVideosResponse *page = NULL;
    uint64_t ids[5];
    vs_call_status st;

    for (int i = 0; i < 5; i++)
        ids[i] = sf_video(&carol, 100 + i);
    assert_int_equal(vs_video_list(carol.client, 0, 1, 0, 2, &page, &st), VS_OK);
    assert_int_equal(page->n_videos, 2);
    assert_true(page->has_more);
    assert_int_equal(page->videos[0]->id, ids[0]);
    assert_int_equal(page->videos[1]->id, ids[1]);
    sf_free(page);
    assert_int_equal(vs_video_list(carol.client, 0, 1, 2, 2, &page, &st), VS_OK);
    assert_int_equal(page->n_videos, 1);
    assert_false(page->has_more);
    assert_int_equal(page->videos[0]->id, ids[4]);
    sf_free(page);
    /* by creator id, from someone else */
    assert_int_equal(vs_video_list(alice.client, carol.id, 0, 0, 0, &page, &st), VS_OK);
    assert_int_equal(page->n_videos, 5);
    for (size_t i = 0; i < page->n_videos; i++)
        assert_int_equal(page->videos[i]->creator_id, carol.id);
    sf_free(page);
    page = NULL;
    assert_int_equal(vs_video_list(carol.client, 0, 1, 0, 501, &page, &st), VS_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "page_size"));
    sf_free_user(&carol);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_video_has_ad_positions_and_makes_creator),
        cmocka_unit_test(test_create_video_bad_title_or_duration_stores_nothing),
        cmocka_unit_test(test_create_video_replay_returns_same_video),
        cmocka_unit_test(test_create_video_same_event_id_from_two_users_two_videos),
        cmocka_unit_test(test_create_video_unauthenticated_refused),
        cmocka_unit_test(test_get_unknown_video_not_found),
        cmocka_unit_test(test_list_videos_mine_and_pages),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
