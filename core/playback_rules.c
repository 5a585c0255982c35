/* playback_rules.c — credited ranges, ad breaks and input validation for playback. */
#include "playback_rules.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int64_t playback_utf8_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int64_t chars = 0;

    while (*p != '\0') {
        uint32_t cp;
        int extra;

        if (*p < 0x80) {
            p++;
            chars++;
            continue;
        }
        if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F;
            extra = 1;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F;
            extra = 2;
        } else if ((*p & 0xF8) == 0xF0) {
            cp = *p & 0x07;
            extra = 3;
        } else {
            return -1; /* continuation byte or 0xF8.. lead */
        }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return -1; /* also catches the terminating NUL */
            cp = (cp << 6) | (*p & 0x3F);
        }
        /* overlong forms, UTF-16 surrogates and code points past Unicode are not UTF-8 */
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
            (extra == 3 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return -1;
        chars++;
    }
    return chars;
}

vs_status playback_check_title(const char *title, char *err, size_t errlen)
{
    int64_t chars = playback_utf8_chars(title ? title : "");

    if (chars < 0) {
        snprintf(err, errlen, "title: not valid UTF-8");
        return VS_INVALID_ARGUMENT;
    }
    if (chars < 1 || chars > PLAYBACK_TITLE_MAX_CHARS) {
        snprintf(err, errlen, "title: must be 1 to %d characters, got %lld",
                 PLAYBACK_TITLE_MAX_CHARS, (long long)chars);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

vs_status playback_check_duration(int64_t duration_s, char *err, size_t errlen)
{
    if (duration_s < 1 || duration_s > PLAYBACK_DURATION_MAX_S) {
        snprintf(err, errlen, "duration_s: must be 1 to %d seconds (24 h), got %lld",
                 PLAYBACK_DURATION_MAX_S, (long long)duration_s);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

vs_status playback_check_position(int64_t position_s, int32_t duration_s, char *err, size_t errlen)
{
    if (position_s < 0 || position_s > duration_s) {
        snprintf(err, errlen, "position_s: must be 0 to %d (the video's duration), got %lld",
                 (int)duration_s, (long long)position_s);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

vs_status playback_check_event_id(const char *event_id, char *err, size_t errlen)
{
    size_t len = event_id ? strlen(event_id) : 0;

    if (len < 1 || len > PLAYBACK_EVENT_ID_MAX) {
        snprintf(err, errlen, "event_id: must be 1 to %d bytes, got %zu", PLAYBACK_EVENT_ID_MAX,
                 len);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

int playback_ad_positions(int32_t duration_s, int32_t *out, int max)
{
    return playback_ads_in_range(duration_s, 0, duration_s, out, max);
}

int32_t playback_resume_position(int has_saved, int32_t saved_s, int32_t duration_s)
{
    if (!has_saved || saved_s >= duration_s || saved_s < 0)
        return 0;
    return saved_s;
}

int64_t playback_elapsed_ms(int64_t play_wall_ms, int64_t pause_wall_ms, int steady_known,
                            int64_t play_steady_ms, int64_t pause_steady_ms)
{
    int64_t wall = pause_wall_ms - play_wall_ms, steady = pause_steady_ms - play_steady_ms;

    return steady_known && steady < wall ? steady : wall;
}

void playback_credit_range(int32_t p0_s, int32_t p1_s, int64_t elapsed_ms, playback_credit *out)
{
    int64_t elapsed_s = elapsed_ms > 0 ? elapsed_ms / 1000 : 0;
    int64_t claimed = (int64_t)p1_s - p0_s;
    int64_t allowed = elapsed_s + PLAYBACK_GRACE_S;
    int64_t length = claimed <= 0 ? 0 : (claimed < allowed ? claimed : allowed);

    out->from_s = p0_s;
    out->to_s = (int32_t)(p0_s + length);
    out->watch_s = (int32_t)length;
}

int playback_ads_in_range(int32_t duration_s, int32_t from_s, int32_t to_s, int32_t *out, int max)
{
    int n = 0;
    /* first break strictly after from_s */
    int64_t p =
        ((int64_t)(from_s < 0 ? 0 : from_s) / PLAYBACK_AD_INTERVAL_S + 1) * PLAYBACK_AD_INTERVAL_S;

    for (; p <= to_s && p < duration_s; p += PLAYBACK_AD_INTERVAL_S) {
        if (n < max)
            out[n] = (int32_t)p;
        n++;
    }
    return n;
}

void playback_view_claim_key(uint64_t video_id, uint64_t viewer_id, char *out, size_t outlen)
{
    snprintf(out, outlen, "view:%" PRIu64 ":%" PRIu64, video_id, viewer_id);
}

void playback_ad_claim_key(uint64_t video_id, uint64_t viewer_id, int32_t ad_s, char *out,
                           size_t outlen)
{
    snprintf(out, outlen, "ad:%" PRIu64 ":%" PRIu64 ":%d", video_id, viewer_id, (int)ad_s);
}

playback_reason playback_claim_outcome(int own_video, const char *holder, const char *event_id)
{
    if (own_video)
        return PLAYBACK_OWN_VIDEO;
    /* the value need not name the viewer: a claim key is one viewer's, and an id names one
     * event of that viewer */
    if (holder == NULL || strcmp(holder, event_id) == 0)
        return PLAYBACK_COUNTED;
    return PLAYBACK_REPEAT;
}
