-- 0001_foundation: objects the stack itself relies on.
-- (schema_version is created by tools/migrate before any file runs.)

-- Written on the primary and read back on the replica by tests that check
-- replication works.
CREATE TABLE replication_probe (
  id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  token      VARCHAR(64)  NOT NULL,
  created_at TIMESTAMP(6) NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
