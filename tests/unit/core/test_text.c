/* test_text.c — strict UTF-8 and quoting echoed input: the result is always valid UTF-8 without
 * control characters, and a cut falls on a character boundary and shows an ellipsis. */
#include "coretest.h"

#include <string.h>

#include "text.h"

#define ELL TEXT_ELLIPSIS

static const char *quote(char *dst, size_t dstlen, const char *src)
{
    const char *out = text_quote(dst, dstlen, src, src ? strlen(src) : 0);

    assert_ptr_equal(out, dst);
    assert_true(strlen(dst) < dstlen);
    assert_true(text_utf8_valid(dst, strlen(dst)));
    return dst;
}

static void test_strict_utf8_accepts_well_formed_text(void **state)
{
    static const char *const good[] = {
        "",
        "plain ASCII",
        "caf\xc3\xa9",              /* U+00E9 */
        "\xed\x95\x9c\xea\xb8\x80", /* U+D55C U+AE00 */
        "\xed\x9f\xbf",             /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",             /* U+E000, just above them */
        "\xef\xbf\xbf",             /* U+FFFF */
        "\xf0\x9f\x8e\xac",         /* U+1F3AC */
        "\xf4\x8f\xbf\xbf",         /* U+10FFFF, the last code point */
    };

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(text_utf8_valid(good[i], strlen(good[i])));
}

static void test_strict_utf8_refuses_invalid_bytes_overlongs_and_surrogates(void **state)
{
    static const char *const bad[] = {
        "\xff",
        "\xfe",
        "\x80",     /* never UTF-8; a stray continuation byte */
        "x\xc3",    /* a 2-byte sequence cut short */
        "\xe2\x80", /* a 3-byte sequence cut short */
        "\xc3(",    /* a lead byte without its continuation */
        "\xc0\xaf",
        "\xc1\xbf",         /* overlong 2-byte forms */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xed\xa0\x80",
        "\xed\xbf\xbf",     /* surrogates U+D800, U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead byte beyond U+10FFFF */
    };
    uint32_t cp;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(text_utf8_valid(bad[i], strlen(bad[i])));
    assert_int_equal(text_utf8_decode((const unsigned char *)"\xf0\x9f\x8e\xac", 4, &cp), 4);
    assert_int_equal(cp, 0x1f3ac);
    assert_int_equal(text_utf8_decode((const unsigned char *)"\xf0\x9f\x8e\xac", 3, &cp), 0);
}

static void test_quote_keeps_valid_text_and_escapes_invalid_bytes(void **state)
{
    char q[64];

    assert_string_equal(quote(q, sizeof q, "2026-13-01"), "\"2026-13-01\"");
    assert_string_equal(quote(q, sizeof q, "caf\xc3\xa9"), "\"caf\xc3\xa9\"");
    assert_string_equal(quote(q, sizeof q, "\xff\xfe"), "\"\\xFF\\xFE\"");
    assert_string_equal(quote(q, sizeof q, "x\xc3\xa9\xc3\xa9\xe2\x80\xa6\xc3"),
                        "\"x\xc3\xa9\xc3\xa9\xe2\x80\xa6\\xC3\"");
    assert_string_equal(quote(q, sizeof q, "\xc0\xaf"), "\"\\xC0\\xAF\"");
    assert_string_equal(quote(q, sizeof q, "\xed\xa0\x80"), "\"\\xED\\xA0\\x80\"");
    assert_string_equal(quote(q, sizeof q, NULL), "\"\"");
}

static void test_quote_escapes_control_characters_quotes_and_backslashes(void **state)
{
    char q[64];

    assert_string_equal(quote(q, sizeof q, "a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_string_equal(quote(q, sizeof q, "1\n2\r3\t4"), "\"1\\n2\\r3\\t4\"");
    assert_string_equal(quote(q, sizeof q, "\x1b[31mred\x7f"), "\"\\x1B[31mred\\x7F\"");
    assert_string_equal(quote(q, sizeof q, "c1:\xc2\x85"), "\"c1:\\u0085\"");
}

/* q[13]: 10 bytes between the quotes and the NUL */
static void test_quote_exact_fit_has_no_ellipsis(void **state)
{
    char q[13];

    assert_string_equal(quote(q, sizeof q, "0123456789"), "\"0123456789\"");
    assert_string_equal(quote(q, sizeof q, "01234567890"), "\"0123456" ELL "\"");
}

/* A character or escape that does not fit whole is left out, never split. */
static void test_quote_cut_never_splits_a_character_or_an_escape(void **state)
{
    char q[13];

    /* "x" then U+00E9 five times (11 bytes): 7 fit before the ellipsis, not half an é more */
    assert_string_equal(quote(q, sizeof q, "x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
                        "\"x\xc3\xa9\xc3\xa9\xc3\xa9" ELL "\"");
    /* \xFF escapes are 4 bytes: whole or not at all */
    assert_string_equal(quote(q, sizeof q, "ab\xff\xff\xff"), "\"ab\\xFF" ELL "\"");
    /* a 4-byte character that fits whole stays whole */
    assert_string_equal(quote(q, sizeof q, "\xf0\x9f\x8e\xac\xf0\x9f\x8e\xac\xf0\x9f\x8e\xac"),
                        "\"\xf0\x9f\x8e\xac" ELL "\"");
}

static void test_quote_in_a_tiny_buffer_is_empty_not_broken(void **state)
{
    char q[8];

    assert_string_equal(quote(q, 5, "abcdef"), "");
    assert_string_equal(quote(q, 6, "abcdef"), "\"" ELL "\"");
    assert_string_equal(quote(q, 6, ""), "\"\"");
    assert_ptr_equal(text_quote(q, 0, "x", 1), q);
}

static void test_sanitize_leaves_clean_messages_alone(void **state)
{
    char m[64] = "date: \"2026-13-01\" is not a calendar date \xe2\x80\x94 ok";
    char copy[64];

    memcpy(copy, m, sizeof m);
    text_sanitize(m, sizeof m);
    assert_memory_equal(m, copy, sizeof m);
}

static void test_sanitize_escapes_invalid_bytes_and_control_characters(void **state)
{
    char m[64] = "unknown method \"\xff\xfe\" \x01";

    text_sanitize(m, sizeof m);
    assert_string_equal(m, "unknown method \"\\xFF\\xFE\" \\x01");
    assert_true(text_utf8_valid(m, strlen(m)));
}

/* A message cut by a byte count (vsnprintf) may end in half a character. */
static void test_sanitize_repairs_a_message_cut_inside_a_character(void **state)
{
    char m[16] = "abcdefghij\xc3\xa9\xc3"; /* ends with the first byte of a second é */

    text_sanitize(m, sizeof m);
    assert_true(text_utf8_valid(m, strlen(m)));
    assert_true(strlen(m) < sizeof m);
    assert_string_equal(m, "abcdefghij\xc3\xa9" ELL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_utf8_accepts_well_formed_text),
        cmocka_unit_test(test_strict_utf8_refuses_invalid_bytes_overlongs_and_surrogates),
        cmocka_unit_test(test_quote_keeps_valid_text_and_escapes_invalid_bytes),
        cmocka_unit_test(test_quote_escapes_control_characters_quotes_and_backslashes),
        cmocka_unit_test(test_quote_exact_fit_has_no_ellipsis),
        cmocka_unit_test(test_quote_cut_never_splits_a_character_or_an_escape),
        cmocka_unit_test(test_quote_in_a_tiny_buffer_is_empty_not_broken),
        cmocka_unit_test(test_sanitize_leaves_clean_messages_alone),
        cmocka_unit_test(test_sanitize_escapes_invalid_bytes_and_control_characters),
        cmocka_unit_test(test_sanitize_repairs_a_message_cut_inside_a_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
