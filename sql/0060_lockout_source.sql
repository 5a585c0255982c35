-- Log-in lockout per (email, source): five failures from one source lock that email for that
-- source only, so a stranger who knows an email cannot lock its owner out from elsewhere; a
-- higher count from all sources together locks the email everywhere (source ''). source is
-- what vsd sees of the caller: "ip:192.0.2.7", "ip6:2001:db8::/64", "local" (ipc).
-- Rows from before this migration have source '' : an existing lock stays email-wide.
ALTER TABLE auth_login_attempt
  ADD COLUMN source VARBINARY(64) NOT NULL DEFAULT '' AFTER email,
  ADD KEY auth_login_attempt_source (email, source, at_ms);

ALTER TABLE auth_lockout
  ADD COLUMN source VARBINARY(64) NOT NULL DEFAULT '' AFTER email,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (email, source);
