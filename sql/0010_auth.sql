-- 0010_auth: durable token revocations and log-in lockout (see docs/users.md).

-- Logout writes the token's jti here before it answers; Redis only caches these rows. A row is
-- useless once the token has expired (exp + 60 s skew) and may then be deleted.
CREATE TABLE auth_revoked_token (
  jti           CHAR(32) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  user_id       BIGINT UNSIGNED NOT NULL,
  expires_unix  BIGINT          NOT NULL,
  revoked_at    TIMESTAMP(3)    NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY auth_revoked_token_expiry (expires_unix)
) ENGINE=InnoDB;

-- One row per log-in attempt being counted, keyed by the normalised email whether or not an
-- account has it (so a locked reply reveals nothing). Times are vsd's clock (injectable).
CREATE TABLE auth_login_attempt (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email         VARCHAR(254)    NOT NULL,
  at_ms         BIGINT          NOT NULL,
  KEY auth_login_attempt_email (email, at_ms),
  KEY auth_login_attempt_time (at_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- An email is locked until locked_until_ms after its fifth failure within 15 minutes.
CREATE TABLE auth_lockout (
  email           VARCHAR(254) NOT NULL PRIMARY KEY,
  locked_until_ms BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
