-- 0091_invalidation_videos: what an invalidation of traffic marked, per video (the play rows
-- whose play_log.invalid_id is the invalidation's id), recorded when it is made.
CREATE TABLE traffic_invalidation_video (
  invalidation_id INT UNSIGNED    NOT NULL,
  video_id        BIGINT UNSIGNED NOT NULL,
  play_rows       BIGINT          NOT NULL,
  PRIMARY KEY (invalidation_id, video_id)
) ENGINE=InnoDB;
