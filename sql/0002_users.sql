-- 0002_users: accounts. Passwords are argon2id strings from libsodium (crypto_pwhash_str).
-- Roles: 1 viewer, 2 creator, 3 admin (the vs.v1.Role numbers).
CREATE TABLE users (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email         VARCHAR(254)    NOT NULL,
  password_hash VARCHAR(255)    NOT NULL,
  display_name  VARCHAR(64)     NOT NULL,
  role          TINYINT UNSIGNED NOT NULL DEFAULT 1,
  created_at    TIMESTAMP(3)    NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
