-- 0050_event_ids_per_caller: event ids are idempotency keys of one caller, like a payment API's
-- keys of one account. Unique over the whole table, another user's id answered ALREADY_EXISTS,
-- so a user could find out or block someone else's keys; now the same id from two users is two
-- events, and a replay by the same user still finds its first outcome.
--
-- The id stays the first column: a lookup is still one equality on (id, user) in one index,
-- tools/gen's ids (a per-data-set prefix, then a counter) still insert in index order during a bulk
-- load, and its "already loaded" and video lookups by id prefix stay index range scans. Existing
-- rows are unique by id alone, hence by (id, user): the new keys build on any existing data.
ALTER TABLE play_log DROP INDEX play_log_event, ADD UNIQUE KEY play_log_event (event_id, viewer_id);

ALTER TABLE videos DROP INDEX videos_create_event,
  ADD UNIQUE KEY videos_create_event (create_event_id, creator_id);
