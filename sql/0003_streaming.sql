-- 0003_streaming: videos and the play log (the settlement basis).

-- create_event_id makes CreateVideo idempotent under retries (NULL for bulk-loaded rows).
CREATE TABLE videos (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  creator_id      BIGINT UNSIGNED NOT NULL,
  title           VARCHAR(200)    NOT NULL,
  duration_s      INT             NOT NULL,
  created_at      TIMESTAMP(3)    NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  create_event_id VARBINARY(64)   NULL,
  UNIQUE KEY videos_create_event (create_event_id),
  KEY videos_creator (creator_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per Play (kind 1) or Pause (kind 2), committed before the call is acknowledged.
-- day is the business day (configured time zone) of received_at_ms.
-- Play rows: position_s = resume position, view_counted/reason = the view decision
--   (reason: 0 counted, 1 OWN_VIDEO, 2 REPEAT), watch_s = ad_views = 0.
-- Pause rows: position_s = the position sent, credited_from_s/credited_to_s = the credited range,
--   watch_s its length, ad_views the ad views counted, view_counted = 0.
-- A replayed event_id returns the stored outcome; event ids are unique over the whole log.
CREATE TABLE play_log (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id        VARBINARY(64)   NOT NULL,
  kind            TINYINT UNSIGNED NOT NULL,
  video_id        BIGINT UNSIGNED NOT NULL,
  viewer_id       BIGINT UNSIGNED NOT NULL,
  day             DATE            NOT NULL,
  received_at_ms  BIGINT          NOT NULL,
  position_s      INT             NOT NULL DEFAULT 0,
  credited_from_s INT             NOT NULL DEFAULT 0,
  credited_to_s   INT             NOT NULL DEFAULT 0,
  watch_s         INT             NOT NULL DEFAULT 0,
  ad_views        INT             NOT NULL DEFAULT 0,
  view_counted    TINYINT UNSIGNED NOT NULL DEFAULT 0,
  reason          TINYINT UNSIGNED NOT NULL DEFAULT 0,
  UNIQUE KEY play_log_event (event_id),
  KEY play_log_day (day, id)
) ENGINE=InnoDB DEFAULT CHARSET=binary;

-- Resume position and the open playback (the last Play not yet paused) per viewer and video.
-- play_started_ms is NULL when no playback is open.
CREATE TABLE watch_position (
  viewer_id       BIGINT UNSIGNED NOT NULL,
  video_id        BIGINT UNSIGNED NOT NULL,
  position_s      INT             NOT NULL DEFAULT 0,
  play_from_s     INT             NOT NULL DEFAULT 0,
  play_started_ms BIGINT          NULL,
  updated_at_ms   BIGINT          NOT NULL,
  PRIMARY KEY (viewer_id, video_id)
) ENGINE=InnoDB;
