-- 0040_watch_position_version: a version per watch_position row, so a commit lane can skip
-- reading the rows it wrote itself (server/play_known.c). Every write by vsd stores a new random
-- row_version; a lane that knows a row's version writes it back only while the row still has
-- that version, else the round is rerun with the read. 0: written before this column existed.
ALTER TABLE watch_position ADD COLUMN row_version BIGINT UNSIGNED NOT NULL DEFAULT 0;

-- Any other change to a row (a second vsd is covered by the random versions; this is for a hand
-- edit such as UPDATE watch_position SET position_s=0) gets a new version too, so no lane
-- overwrites it from what it knew before.
DELIMITER //
CREATE TRIGGER watch_position_versioned BEFORE UPDATE ON watch_position FOR EACH ROW
IF NEW.row_version = OLD.row_version THEN
  SET NEW.row_version = OLD.row_version + 1;
END IF //
DELIMITER ;
