-- 0030_batch_partial_chunks: partial aggregates travel as packed chunks instead of one row per
-- partition and video. A 32-million-row day made ~1.4 million partial rows that the primary had
-- to insert and the replica to apply, a quarter of each worker's time; as chunks of up to 8,192
-- videos they are a few hundred rows. The table only ever holds in-flight data.
DROP TABLE batch_partial;

-- data: `videos` records of 5 little-endian int64 each — video_id, views, watch_s, ad_views,
-- play_rows — sorted by video_id; written in the same transaction that marks the partition done.
CREATE TABLE batch_partial_chunk (
  job_id BIGINT UNSIGNED NOT NULL,
  part   INT UNSIGNED    NOT NULL,
  chunk  INT UNSIGNED    NOT NULL,
  videos INT UNSIGNED    NOT NULL,
  data   MEDIUMBLOB      NOT NULL,
  PRIMARY KEY (job_id, part, chunk)
) ENGINE=InnoDB;
