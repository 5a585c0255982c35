/* text.c — strict UTF-8 decoding and safe quoting of untrusted text. */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t text_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char b0 = s[0], lo = 0x80, hi = 0xbf;
    size_t n;

    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xc2 && b0 <= 0xdf)
        n = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef)
        n = 3;
    else if (b0 >= 0xf0 && b0 <= 0xf4)
        n = 4;
    else
        return 0; /* continuation byte, overlong lead (c0, c1) or beyond U+10FFFF (f5..ff) */
    if (len < n)
        return 0;
    if (b0 == 0xe0)
        lo = 0xa0; /* overlong 3-byte */
    else if (b0 == 0xed)
        hi = 0x9f; /* surrogates */
    else if (b0 == 0xf0)
        lo = 0x90; /* overlong 4-byte */
    else if (b0 == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (s[1] < lo || s[1] > hi)
        return 0;
    *cp = b0 & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < n; i++) {
        if (i > 1 && (s[i] < 0x80 || s[i] > 0xbf))
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    return n;
}

int text_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;

    for (size_t i = 0, n; i < len; i += n)
        if ((n = text_utf8_decode(p + i, len - i, &cp)) == 0)
            return 0;
    return 1;
}

/* The printable form of the character or stray byte at s[0..len): written to piece (at most 7
 * bytes), its length returned and the input bytes it stands for in *used. quoting also escapes
 * the quote and the backslash and names \n \r \t. */
static size_t text_piece(const unsigned char *s, size_t len, int quoting, char piece[8],
                         size_t *used)
{
    uint32_t cp;
    size_t n = text_utf8_decode(s, len, &cp);

    *used = n ? n : 1;
    if (n == 0)
        return (size_t)snprintf(piece, 8, "\\x%02X", s[0]);
    if (quoting && (cp == '"' || cp == '\\'))
        return (size_t)snprintf(piece, 8, "\\%c", (int)cp);
    if (quoting && (cp == '\n' || cp == '\r' || cp == '\t'))
        return (size_t)snprintf(piece, 8, "\\%c", cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't');
    if (cp < 0x20 || cp == 0x7f)
        return (size_t)snprintf(piece, 8, "\\x%02X", (unsigned)cp);
    if (cp >= 0x80 && cp <= 0x9f)
        return (size_t)snprintf(piece, 8, "\\u%04X", (unsigned)cp);
    memcpy(piece, s, n);
    return n;
}

/* Writes the escaped form of src[0..srclen) to dst, using at most room bytes (room >= 3, no NUL
 * written). When it does not all fit, it ends at the last piece boundary that leaves room for
 * TEXT_ELLIPSIS, followed by it. Returns the bytes written. */
static size_t text_escape(char *dst, size_t room, const unsigned char *src, size_t srclen,
                          int quoting)
{
    size_t out = 0, cut = 0, ell = sizeof TEXT_ELLIPSIS - 1;

    for (size_t i = 0; i < srclen;) {
        char piece[8];
        size_t used, n = text_piece(src + i, srclen - i, quoting, piece, &used);

        if (out + n > room) {
            memcpy(dst + cut, TEXT_ELLIPSIS, ell);
            return cut + ell;
        }
        memcpy(dst + out, piece, n);
        out += n;
        if (out + ell <= room)
            cut = out;
        i += used;
    }
    return out;
}

char *text_quote(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    size_t n;

    if (dstlen == 0)
        return dst;
    /* the smallest cut quote is "…" and its NUL */
    if (dstlen < 2 + sizeof TEXT_ELLIPSIS) {
        dst[0] = '\0';
        return dst;
    }
    dst[0] = '"';
    n = text_escape(dst + 1, dstlen - 3, (const unsigned char *)(src ? src : ""), src ? srclen : 0,
                    1);
    dst[1 + n] = '"';
    dst[2 + n] = '\0';
    return dst;
}

/* 1 when s[0..len) needs no change: valid UTF-8 without control characters. */
static int text_clean(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;

    for (size_t i = 0, n; i < len; i += n) {
        if ((n = text_utf8_decode(p + i, len - i, &cp)) == 0 || cp < 0x20 || cp == 0x7f ||
            (cp >= 0x80 && cp <= 0x9f))
            return 0;
    }
    return 1;
}

void text_sanitize(char *s, size_t cap)
{
    size_t len, n;
    char *copy;

    if (cap == 0)
        return;
    len = strnlen(s, cap - 1);
    s[len] = '\0';
    if (text_clean(s, len))
        return;
    if (cap < sizeof TEXT_ELLIPSIS || (copy = malloc(len + 1)) == NULL) {
        /* nothing better possible: keep the clean prefix */
        for (n = 0; n < len && (unsigned char)s[n] >= 0x20 && (unsigned char)s[n] < 0x7f; n++)
            ;
        s[n] = '\0';
        return;
    }
    memcpy(copy, s, len + 1);
    n = text_escape(s, cap - 1, (const unsigned char *)copy, len, 0);
    s[n] = '\0';
    free(copy);
}
