-- 0080_batch_job_started_by: who queued a job's current attempt — "schedule" (the coordinator
-- settles each business day by itself once it has closed) or "operator <user id>" (StartJob).
ALTER TABLE batch_job ADD COLUMN started_by VARCHAR(96) NOT NULL DEFAULT '' AFTER forced;
