/* vs/streaming.h — libvsclient convenience calls for StreamingService's write path: videos,
 * Play / Pause and today's live counters.
 *
 * Each returns a vs_status (VS_OK on success) and, on success, the decoded reply in *out, owned
 * by the caller: free it with protobuf_c_message_free_unpacked(&(*out)->base, NULL). On failure
 * *out is NULL and status (may be NULL) says why.
 *
 * Mutations are idempotent by event id: pass your own (1..64 bytes) when you may retry a call
 * whose outcome you did not see — the retry then returns the first outcome and changes nothing.
 * With event_id NULL or "", a fresh random id (vs_event_id) is generated for the call. */
#ifndef VS_STREAMING_H_PUBLIC
#define VS_STREAMING_H_PUBLIC

#include <stdint.h>
#include <vs/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Registers a video (the caller becomes a creator). Title 1..200 characters of UTF-8, duration
 * 1 s .. 24 h. */
int vs_video_create(vs_client *client, const char *title, int32_t duration_s, const char *event_id,
                    Vs__V1__Video **out, vs_call_status *status);

int vs_video_get(vs_client *client, uint64_t video_id, Vs__V1__Video **out, vs_call_status *status);

/* One page (0-based) of videos by id: all (creator_id 0), one creator's, or with mine the
 * caller's own. page_size 0 = the server's default (50); at most 500. */
int vs_video_list(vs_client *client, uint64_t creator_id, int mine, uint32_t page,
                  uint32_t page_size, Vs__V1__ListVideosResponse **out, vs_call_status *status);

/* Starts a playback: resume position, and whether a view was counted (and if not, why). */
int vs_play(vs_client *client, uint64_t video_id, const char *event_id, Vs__V1__PlayResponse **out,
            vs_call_status *status);

/* Ends the playback at position_s: credited range, watch seconds, ad views counted. */
int vs_pause(vs_client *client, uint64_t video_id, int32_t position_s, const char *event_id,
             Vs__V1__PauseResponse **out, vs_call_status *status);

/* Today's counted views and ad views of a video (its creator or an admin). */
int vs_live_stats(vs_client *client, uint64_t video_id, Vs__V1__LiveStats **out,
                  vs_call_status *status);

/* "COUNTED", "OWN_VIDEO", "REPEAT" (or "UNKNOWN"). */
const char *vs_not_counted_reason_name(int reason);

#ifdef __cplusplus
}
#endif
#endif
