/* text.h — strict UTF-8, and quoting untrusted text into messages.
 *
 * A reply's message is a protobuf `string`: strict clients (Python's, Go's) refuse a whole reply
 * whose message is not valid UTF-8. Messages echo what a caller sent ("date: \"...\" is not a
 * calendar date"), and a caller can send any bytes, so every echo goes through text_quote: the
 * result is always valid UTF-8 with no control characters, and a long input is cut on a
 * character boundary with an ellipsis. text_sanitize is the RPC layer's last line of defence for
 * a message built some other way. Pure functions, no allocation, no I/O. */
#ifndef VS_TEXT_H
#define VS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The ellipsis a cut quote or message ends with: U+2026. */
#define TEXT_ELLIPSIS "\xe2\x80\xa6"

/* Length (1 to 4) of the strictly valid UTF-8 sequence that starts s[0..len), with its code point
 * in *cp; 0 when the bytes there are none (a stray continuation byte, an overlong form, a
 * surrogate, a code point above U+10FFFF, or a sequence cut short by len). len must be >= 1. */
size_t text_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* 1 when s[0..len) is strictly valid UTF-8 (as text_utf8_decode defines it), else 0. */
int text_utf8_valid(const char *s, size_t len);

/* Writes src[0..srclen) to dst (capacity dstlen, always NUL-terminated when dstlen > 0) as a
 * double-quoted string that is valid UTF-8 and printable: `"` and `\` are escaped with a
 * backslash, \n \r \t as such, other control characters (C0, DEL, C1) as \xHH or \u00HH, and each
 * byte that is not part of a valid sequence as \xHH (so "\xff" reads \xFF). When it does not fit,
 * it is cut after the last whole character or escape that leaves room for TEXT_ELLIPSIS and the
 * closing quote. src may be NULL (then ""). Returns dst, so it can be a printf argument. */
char *text_quote(char *dst, size_t dstlen, const char *src, size_t srclen);

/* Makes the NUL-terminated message s (capacity cap) valid UTF-8 without control characters, in
 * place: invalid bytes and control characters become \xHH; if that makes it longer than cap - 1,
 * it is cut on a character boundary and ends with TEXT_ELLIPSIS. A message that is already clean
 * is left exactly as it is. */
void text_sanitize(char *s, size_t cap);

#endif
