-- 0004_batch: the settlement batch — rate cards, job repository, partial aggregates, and the
-- precomputed statistics / settlement / top-N tables the read path serves (docs/batch.md).
-- Counts and money are BIGINT integers (won, or milli-won where the column name says so).

-- Rate cards: versioned and effective-dated. The card for business day D is the one with the
-- greatest effective_from <= D. Bands are marginal over the lifetime ordinal k of a view (k = 1, 2,
-- ...): band b covers first_ordinal(b) .. first_ordinal(b+1) - 1, the last band is open-ended.
CREATE TABLE rate_card (
  version        INT UNSIGNED NOT NULL PRIMARY KEY,
  effective_from DATE         NOT NULL,
  description    VARCHAR(200) NOT NULL DEFAULT '',
  created_at     TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY rate_card_effective (effective_from)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- kind: 1 video views, 2 ad views. price_milli: milli-won per view (1.1 won = 1100).
CREATE TABLE rate_card_band (
  version       INT UNSIGNED     NOT NULL,
  kind          TINYINT UNSIGNED NOT NULL,
  band          TINYINT UNSIGNED NOT NULL,
  first_ordinal BIGINT UNSIGNED  NOT NULL,
  price_milli   BIGINT           NOT NULL,
  PRIMARY KEY (version, kind, band),
  CONSTRAINT rate_card_band_card FOREIGN KEY (version) REFERENCES rate_card (version)
) ENGINE=InnoDB;

-- The default card of docs/rules.md, "Settlement".
INSERT INTO rate_card (version, effective_from, description)
VALUES (1, '1970-01-01', 'default card (docs/rules.md, Settlement)');
INSERT INTO rate_card_band (version, kind, band, first_ordinal, price_milli) VALUES
  (1, 1, 1, 1, 1000), (1, 1, 2, 100000, 1100), (1, 1, 3, 500000, 1300), (1, 1, 4, 1000000, 1500),
  (1, 2, 1, 1, 10000), (1, 2, 2, 100000, 12000), (1, 2, 3, 500000, 15000), (1, 2, 4, 1000000, 20000);

-- Job repository. One row per job instance (name, business_date); a forced re-run reuses the row
-- (attempt + 1). state: the vs.v1.JobState numbers (1 PENDING, 2 RUNNING, 3 MERGING, 4 COMPLETED,
-- 5 FAILED). first_id/last_id: the day's play_log id range, fixed when the partitions are made.
CREATE TABLE batch_job (
  id               BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name             VARCHAR(64)      NOT NULL,
  business_date    DATE             NOT NULL,
  state            TINYINT UNSIGNED NOT NULL,
  attempt          INT UNSIGNED     NOT NULL DEFAULT 1,
  forced           TINYINT UNSIGNED NOT NULL DEFAULT 0,
  primary_gtid     VARCHAR(1024)    NOT NULL DEFAULT '',
  first_id         BIGINT UNSIGNED  NOT NULL DEFAULT 0,
  last_id          BIGINT UNSIGNED  NOT NULL DEFAULT 0,
  partitions_total INT UNSIGNED     NOT NULL DEFAULT 0,
  partitions_done  INT UNSIGNED     NOT NULL DEFAULT 0,
  rows_total       BIGINT           NOT NULL DEFAULT 0,
  rows_done        BIGINT           NOT NULL DEFAULT 0,
  videos           BIGINT           NOT NULL DEFAULT 0,
  rate_card_version INT UNSIGNED    NULL,
  error            VARCHAR(1024)    NOT NULL DEFAULT '',
  created_ms       BIGINT           NOT NULL,
  started_ms       BIGINT           NOT NULL DEFAULT 0,
  finished_ms      BIGINT           NOT NULL DEFAULT 0,
  updated_ms       BIGINT           NOT NULL DEFAULT 0,
  UNIQUE KEY batch_job_instance (name, business_date),
  KEY batch_job_state (state, business_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Partitions of a job: an inclusive play_log id range, fixed once. state: 1 pending, 2 leased,
-- 3 done. A worker commits its partials only while lease_epoch still equals its task's epoch.
CREATE TABLE batch_partition (
  job_id            BIGINT UNSIGNED  NOT NULL,
  part              INT UNSIGNED     NOT NULL,
  first_id          BIGINT UNSIGNED  NOT NULL,
  last_id           BIGINT UNSIGNED  NOT NULL,
  state             TINYINT UNSIGNED NOT NULL DEFAULT 1,
  attempt           INT UNSIGNED     NOT NULL DEFAULT 0,
  lease_epoch       BIGINT UNSIGNED  NOT NULL DEFAULT 0,
  lease_deadline_ms BIGINT           NOT NULL DEFAULT 0,
  worker            VARCHAR(128)     NOT NULL DEFAULT '',
  rows_read         BIGINT           NOT NULL DEFAULT 0,
  videos            BIGINT           NOT NULL DEFAULT 0,
  done_ms           BIGINT           NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, part)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per-partition, per-video partial aggregates, written in the same transaction that marks the
-- partition done. Keyed by video first so the merge reads all partitions of a video together.
CREATE TABLE batch_partial (
  job_id   BIGINT UNSIGNED NOT NULL,
  video_id BIGINT UNSIGNED NOT NULL,
  part     INT UNSIGNED    NOT NULL,
  views    BIGINT          NOT NULL,
  watch_s  BIGINT          NOT NULL,
  ad_views BIGINT          NOT NULL,
  play_rows BIGINT         NOT NULL,
  PRIMARY KEY (job_id, video_id, part)
) ENGINE=InnoDB;

-- Statistics per video per business day; a row exists for every video with play_log rows that day.
CREATE TABLE video_daily_stats (
  video_id   BIGINT UNSIGNED NOT NULL,
  day        DATE            NOT NULL,
  creator_id BIGINT UNSIGNED NOT NULL,
  views      BIGINT          NOT NULL,
  watch_s    BIGINT          NOT NULL,
  ad_views   BIGINT          NOT NULL,
  PRIMARY KEY (video_id, day),
  KEY video_daily_stats_day (day, video_id)
) ENGINE=InnoDB;

-- Lifetime counts at the end of a day. Sparse: a row for each day the video had play_log rows.
-- Lifetime at the end of day X = the row with the greatest day <= X (0 when none).
CREATE TABLE video_cumulative (
  video_id          BIGINT UNSIGNED NOT NULL,
  day               DATE            NOT NULL,
  views_lifetime    BIGINT          NOT NULL,
  ad_views_lifetime BIGINT          NOT NULL,
  PRIMARY KEY (video_id, day)
) ENGINE=InnoDB;

-- Settlement per video per day (docs/rules.md, "Settlement"), a row for each video with play_log
-- rows that day.
-- *_before / *_after: lifetime counts at the end of the previous day / of this day; the band lines
-- are derived from them with the rate card (core/money.h): video_exact_milli =
-- F(views_after) - F(views_before) and video_won = floor(F(after)/1000) - floor(F(before)/1000).
CREATE TABLE settlement_daily (
  video_id          BIGINT UNSIGNED NOT NULL,
  day               DATE            NOT NULL,
  creator_id        BIGINT UNSIGNED NOT NULL,
  rate_card_version INT UNSIGNED    NOT NULL,
  views_before      BIGINT          NOT NULL,
  views_after       BIGINT          NOT NULL,
  ad_views_before   BIGINT          NOT NULL,
  ad_views_after    BIGINT          NOT NULL,
  video_exact_milli BIGINT          NOT NULL,
  ad_exact_milli    BIGINT          NOT NULL,
  video_won         BIGINT          NOT NULL,
  ad_won            BIGINT          NOT NULL,
  total_won         BIGINT          NOT NULL,
  PRIMARY KEY (video_id, day),
  KEY settlement_daily_day (day, video_id),
  KEY settlement_daily_creator (creator_id, day)
) ENGINE=InnoDB;

-- Week (period_kind 2, ISO Monday start) and month (3, first of month) rollups per video: sums of
-- the settled days of the period so far (statistics and money). days = settled days with play rows.
CREATE TABLE video_period_stats (
  period_kind  TINYINT UNSIGNED NOT NULL,
  period_start DATE             NOT NULL,
  video_id     BIGINT UNSIGNED  NOT NULL,
  creator_id   BIGINT UNSIGNED  NOT NULL,
  days         INT              NOT NULL,
  views        BIGINT           NOT NULL,
  watch_s      BIGINT           NOT NULL,
  ad_views     BIGINT           NOT NULL,
  video_won    BIGINT           NOT NULL,
  ad_won       BIGINT           NOT NULL,
  total_won    BIGINT           NOT NULL,
  PRIMARY KEY (period_kind, period_start, video_id),
  KEY video_period_stats_video (video_id, period_kind, period_start)
) ENGINE=InnoDB;

-- Top videos, precomputed: period_kind 1 day, 2 week, 3 month; metric 1 views, 2 watch seconds;
-- creator_id 0 = all videos, otherwise that creator's videos. rank 1..100 by value descending,
-- ties by video id ascending; only videos with value > 0 are ranked.
CREATE TABLE video_top (
  period_kind  TINYINT UNSIGNED  NOT NULL,
  period_start DATE              NOT NULL,
  metric       TINYINT UNSIGNED  NOT NULL,
  creator_id   BIGINT UNSIGNED   NOT NULL,
  rank_no      SMALLINT UNSIGNED NOT NULL,
  video_id     BIGINT UNSIGNED   NOT NULL,
  value        BIGINT            NOT NULL,
  PRIMARY KEY (period_kind, period_start, metric, creator_id, rank_no)
) ENGINE=InnoDB;
