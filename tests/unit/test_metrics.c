/* test_metrics.c — the metrics module's text exposition: exact lines, escaping, histograms as
 * cumulative buckets with _sum and _count, values scaled to base units, the size bound; the
 * listen-address syntax; and the format checker the integration tests rely on. */
#include "testsupport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_http.h"
#include "scrape.h"

static metrics_text render_start(void)
{
    metrics_text t;

    metrics_text_init(&t, 1 << 20);
    return t;
}

static void test_counter_family_has_help_type_and_one_sample_per_label_value(void **state)
{
    static const char *const outcomes[] = {"counted", "repeat"};
    metrics_counter c[2] = {0};
    metrics_text t = render_start();

    metrics_add(&c[0], 41);
    metrics_inc(&c[0]);
    metrics_write_counters(&t, "vs_views_total", "Views by outcome.", "outcome", outcomes, c, 2);
    assert_string_equal(t.buf, "# HELP vs_views_total Views by outcome.\n"
                               "# TYPE vs_views_total counter\n"
                               "vs_views_total{outcome=\"counted\"} 42\n"
                               "vs_views_total{outcome=\"repeat\"} 0\n");
    assert_null(ts_metrics_check(t.buf));
    metrics_text_free(&t);
}

static void test_label_values_and_help_are_escaped(void **state)
{
    metrics_label l[2] = {{"method", "a\"b\\c\nd"}, {"code", "OK"}};
    metrics_text t = render_start();

    metrics_family(&t, "vs_x_total", METRICS_COUNTER, "back\\slash\nnew \"line\"");
    metrics_sample_u64(&t, "vs_x_total", l, 2, 7);
    assert_string_equal(t.buf, "# HELP vs_x_total back\\\\slash\\nnew \"line\"\n"
                               "# TYPE vs_x_total counter\n"
                               "vs_x_total{method=\"a\\\"b\\\\c\\nd\",code=\"OK\"} 7\n");
    assert_null(ts_metrics_check(t.buf));
    /* the checker reads the escapes back */
    assert_true(ts_metric(t.buf, "vs_x_total", "code=\"OK\",method=\"a\\\"b\\\\c\\nd\"") == 7);
    metrics_text_free(&t);
}

static void test_values_are_scaled_to_base_units_exactly(void **state)
{
    metrics_text t = render_start();

    metrics_family(&t, "vs_g", METRICS_GAUGE, "g");
    metrics_sample(&t, "vs_g", NULL, 0, 1500, 6);    /* 1500 µs */
    metrics_sample(&t, "vs_g", NULL, 0, 2000000, 6); /* 2 s */
    metrics_sample(&t, "vs_g", NULL, 0, -250, 3);    /* -250 ms */
    metrics_sample(&t, "vs_g", NULL, 0, 0, 6);
    assert_string_equal(t.buf, "# HELP vs_g g\n# TYPE vs_g gauge\n"
                               "vs_g 0.0015\nvs_g 2\nvs_g -0.25\nvs_g 0\n");
    metrics_text_free(&t);
}

static void test_histogram_buckets_are_cumulative_and_inf_equals_count(void **state)
{
    static const int64_t bounds[] = {1000, 2000, 5000};
    metrics_histogram h = METRICS_HISTOGRAM(bounds);
    metrics_label l = {"method", "/m"};
    metrics_text t = render_start();

    /* 0 and a bound itself fall in the first bucket that holds them; -5 counts as 0 */
    metrics_observe(&h, 0);
    metrics_observe(&h, 1000);
    metrics_observe(&h, 1001);
    metrics_observe(&h, 4999);
    metrics_observe(&h, 9000000);
    metrics_observe(&h, -5);
    metrics_family(&t, "vs_d_seconds", METRICS_HISTOGRAM, "durations");
    metrics_sample_histogram(&t, "vs_d_seconds", &l, 1, &h, 6);
    assert_string_equal(t.buf, "# HELP vs_d_seconds durations\n"
                               "# TYPE vs_d_seconds histogram\n"
                               "vs_d_seconds_bucket{method=\"/m\",le=\"0.001\"} 3\n"
                               "vs_d_seconds_bucket{method=\"/m\",le=\"0.002\"} 4\n"
                               "vs_d_seconds_bucket{method=\"/m\",le=\"0.005\"} 5\n"
                               "vs_d_seconds_bucket{method=\"/m\",le=\"+Inf\"} 6\n"
                               "vs_d_seconds_sum{method=\"/m\"} 9.007\n"
                               "vs_d_seconds_count{method=\"/m\"} 6\n");
    assert_null(ts_metrics_check(t.buf));
    metrics_text_free(&t);
}

static void test_text_past_its_bound_fails_instead_of_cutting(void **state)
{
    metrics_text t;

    metrics_text_init(&t, 100);
    for (int i = 0; i < 10; i++)
        metrics_write_one(&t, "vs_something_long_total", METRICS_COUNTER, "help", i, 0);
    assert_true(t.failed);
    assert_true(t.len < 100);
    metrics_text_free(&t);
}

static void test_process_metrics_are_valid_and_plausible(void **state)
{
    metrics_text t = render_start();

    metrics_process_collect(&t);
    assert_null(ts_metrics_check(t.buf));
    assert_true(ts_metric(t.buf, "process_resident_memory_bytes", NULL) > 1e6);
    assert_true(ts_metric(t.buf, "process_open_fds", NULL) >= 3);
    assert_true(ts_metric(t.buf, "process_start_time_seconds", NULL) > 1.6e9);
    assert_true(ts_metric_present(t.buf, "process_cpu_seconds_total"));
    metrics_text_free(&t);
}

static void test_listen_address_forms(void **state)
{
    struct sockaddr_storage sa;
    socklen_t len;
    char err[256], text[64];

    assert_int_equal(metrics_http_parse_addr("9100", &sa, &len, err, sizeof err), VS_OK);
    assert_int_equal(sa.ss_family, AF_INET);
    inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, text, sizeof text);
    assert_string_equal(text, "127.0.0.1"); /* a bare port is loopback */
    assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9100);
    assert_int_equal(metrics_http_parse_addr("0.0.0.0:80", &sa, &len, err, sizeof err), VS_OK);
    assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 80);
    assert_int_equal(metrics_http_parse_addr("[::1]:9101", &sa, &len, err, sizeof err), VS_OK);
    assert_int_equal(sa.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&sa)->sin6_port), 9101);
}

static void test_bad_listen_addresses_are_refused_with_the_syntax(void **state)
{
    static const char *const bad[] = {"",        "abc",      "70000",     "0",
                                      ":9100",   "1.2.3.4:", "::1:9100",  "[::1]9100",
                                      "[]:9100", "9100x",    "1.2.3.4:-1"};
    struct sockaddr_storage sa;
    socklen_t len;
    char err[256];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (metrics_http_parse_addr(bad[i], &sa, &len, err, sizeof err) != VS_INVALID_ARGUMENT)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_non_null(strstr(err, "PORT"));
    }
}

/* The checker must refuse what Prometheus would, or the integration tests prove nothing. */
static void test_checker_refuses_invalid_text(void **state)
{
    static const char *const bad[] = {
        "vs_a 1\n",                                                /* no HELP/TYPE */
        "# HELP vs_a a\nvs_a 1\n",                                 /* no TYPE */
        "# HELP vs_a a\n# TYPE vs_a counter\nvs_a{x=\"1} 1\n",     /* unterminated value */
        "# HELP vs_a a\n# TYPE vs_a counter\nvs_a{x=\"\\t\"} 1\n", /* bad escape */
        "# HELP vs_a a\n# TYPE vs_a counter\nvs_a one\n",          /* bad value */
        "# HELP vs_a a\n# TYPE vs_a counter\nvs_a 1",              /* no final newline */
        "# HELP vs_a a\n# TYPE vs_a counter\nvs_a 1\nvs_a 2\n",    /* series twice */
        "# HELP vs_a a\n# TYPE vs_a counter\nvs_b 1\n",            /* counter named otherwise */
        "# HELP vs_h h\n# TYPE vs_h histogram\nvs_h_bucket{le=\"1\"} 2\n"
        "vs_h_bucket{le=\"2\"} 1\nvs_h_bucket{le=\"+Inf\"} 2\nvs_h_sum 1\nvs_h_count 2\n",
        "# HELP vs_h h\n# TYPE vs_h histogram\nvs_h_bucket{le=\"1\"} 1\n"
        "vs_h_bucket{le=\"+Inf\"} 2\nvs_h_sum 1\nvs_h_count 3\n",
        "# HELP vs_h h\n# TYPE vs_h histogram\nvs_h_bucket{le=\"1\"} 1\nvs_h_sum 1\n"
        "vs_h_count 1\n",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ts_metrics_check(bad[i]) == NULL)
            fail_msg("accepted: %s", bad[i]);
    assert_null(ts_metrics_check("# HELP vs_a a\n# TYPE vs_a counter\n# other comment\n\n"
                                 "vs_a{x=\"1\",} 1 1700000000000\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_family_has_help_type_and_one_sample_per_label_value),
        cmocka_unit_test(test_label_values_and_help_are_escaped),
        cmocka_unit_test(test_values_are_scaled_to_base_units_exactly),
        cmocka_unit_test(test_histogram_buckets_are_cumulative_and_inf_equals_count),
        cmocka_unit_test(test_text_past_its_bound_fails_instead_of_cutting),
        cmocka_unit_test(test_process_metrics_are_valid_and_plausible),
        cmocka_unit_test(test_listen_address_forms),
        cmocka_unit_test(test_bad_listen_addresses_are_refused_with_the_syntax),
        cmocka_unit_test(test_checker_refuses_invalid_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
