-- 0090_finance: closed months, the append-only money ledger, invalid traffic and the reason of a
-- forced re-run (docs/rules.md "Months close", "Invalid traffic", "The ledger"; docs/batch.md).

-- Why a job's current attempt runs: the operator's reason for a forced re-run ("" for an
-- ordinary settlement); the re-run's ledger entries and adjustment lines carry it.
ALTER TABLE batch_job ADD COLUMN reason VARCHAR(300) NOT NULL DEFAULT '' AFTER started_by;

-- A closed month (month = its first day). Its statement lines are frozen in statement_line;
-- later corrections of its days are booked as adjustments in the first open month after it.
CREATE TABLE month_close (
  month      DATE            NOT NULL PRIMARY KEY,
  closed_by  VARCHAR(96)     NOT NULL,
  closed_ms  BIGINT          NOT NULL,
  videos     BIGINT          NOT NULL,
  total_won  BIGINT          NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The statement of a closed month, per (creator, video): the month's figures when it closed.
CREATE TABLE statement_line (
  month      DATE            NOT NULL,
  creator_id BIGINT UNSIGNED NOT NULL,
  video_id   BIGINT UNSIGNED NOT NULL,
  views      BIGINT          NOT NULL,
  ad_views   BIGINT          NOT NULL,
  video_won  BIGINT          NOT NULL,
  ad_won     BIGINT          NOT NULL,
  total_won  BIGINT          NOT NULL,
  PRIMARY KEY (month, creator_id, video_id)
) ENGINE=InnoDB;

-- Every change to money, appended and never changed. kind: 1 a day settled (its first
-- settlement: the day's amounts), 2 a day re-run in an open month (new minus old), 3 an
-- adjustment (a re-run of a day in a closed month: new minus old, booked in booked_month, the
-- first open month after it), 4 a month closed (video_id 0, amounts 0). day: the day whose
-- figures changed (kind 4: the month's first day); booked_month: the statement month the amounts
-- belong to. Sum per video of video_won/ad_won over all entries = its settlement_daily sums now.
CREATE TABLE ledger (
  id                BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind              TINYINT UNSIGNED NOT NULL,
  job_id            BIGINT UNSIGNED  NOT NULL DEFAULT 0,
  actor             VARCHAR(96)      NOT NULL,
  reason            VARCHAR(300)     NOT NULL DEFAULT '',
  day               DATE             NOT NULL,
  booked_month      DATE             NOT NULL,
  video_id          BIGINT UNSIGNED  NOT NULL DEFAULT 0,
  creator_id        BIGINT UNSIGNED  NOT NULL DEFAULT 0,
  rate_card_version INT UNSIGNED     NOT NULL DEFAULT 0,
  views             BIGINT           NOT NULL DEFAULT 0,
  ad_views          BIGINT           NOT NULL DEFAULT 0,
  video_won         BIGINT           NOT NULL DEFAULT 0,
  ad_won            BIGINT           NOT NULL DEFAULT 0,
  total_won         BIGINT           NOT NULL DEFAULT 0,
  at_ms             BIGINT           NOT NULL,
  KEY ledger_video (video_id, day),
  KEY ledger_creator (creator_id, day),
  KEY ledger_booked (booked_month, kind, creator_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Append-only, enforced by the server for every user: no UPDATE, no DELETE.
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger is append-only: entries cannot be changed';
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger is append-only: entries cannot be deleted';

-- Invalid traffic: an admin marks a viewer's play rows (optionally of one video) over a date
-- range. The rows stay; play_log.invalid_id names the invalidation that marked them, and a marked
-- row counts for nothing (no view, watch time or ad view) from its day's next settlement on.
CREATE TABLE traffic_invalidation (
  id          INT UNSIGNED    NOT NULL AUTO_INCREMENT PRIMARY KEY,
  viewer_id   BIGINT UNSIGNED NOT NULL,
  video_id    BIGINT UNSIGNED NOT NULL DEFAULT 0,
  from_day    DATE            NOT NULL,
  to_day      DATE            NOT NULL,
  reason      VARCHAR(300)    NOT NULL,
  actor       VARCHAR(96)     NOT NULL,
  created_ms  BIGINT          NOT NULL,
  rows_marked BIGINT          NOT NULL DEFAULT 0,
  rerun_from  DATE            NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE play_log ADD COLUMN invalid_id INT UNSIGNED NOT NULL DEFAULT 0, ALGORITHM=INSTANT;
