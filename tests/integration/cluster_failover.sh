#!/usr/bin/env bash
# cluster_failover.sh — losing the MariaDB primary of a three-host tools/cluster (network
# namespaces, MariaDB over TLS, semi-synchronous replication; docs/deploy.md "Losing the primary
# host"). Under Play load from host 0 through a client holding the three hosts' vsd URLs, host 0's
# MariaDB is killed (-9) and `tools/cluster failover` promotes a replica. No program is restarted:
# the vsds, the coordinator (host 0) and the workers follow their host's primary-address file.
#   - every acknowledged Play is one row of the new primary's play_log;
#   - every loader's Plays are acknowledged again (the interruption is measured and printed; bound
#     30 s after the failover);
#   - the other replica replicates from the new primary, and holds every acknowledged Play;
#   - a forced re-run of a day settled before the fault completes, its tables equal to before;
#   - the old primary, started again from its my.cnf, is read-only (an INSERT by vs is refused);
#     `tools/cluster up` makes it a replica of the new primary, still read-only;
#   - with no replica answering, failover refuses and changes nothing.
# Root only (network namespaces). Everything it starts is stopped on exit, pass or fail.
set -euo pipefail

DAY=2015-06-01
GEN=(--rows 200000 --days 1 --videos 200 --users 2000 --seed 29 --start "$DAY")
TABLES=(video_daily_stats video_cumulative settlement_daily video_period_stats video_top)
LOADERS=3
RESUME_BOUND_S=30
CF_WORK=cluster-failover CF_NETNS_PREFIX=vsf CF_SUBNET=10.238 CF_EVENT_TAG=fo
# shellcheck source=tests/integration/cluster_fixture.sh
. "$(dirname "${BASH_SOURCE[0]}")/cluster_fixture.sh"
cf_failure_logs() {
  tail -n 15 "$VS_CLUSTER_HOME"/hosts/*/logs/*.log "$work"/*.log >&2 2>/dev/null || true
  tail -n 15 "$VS_CLUSTER_HOME"/hosts/*/mariadb/mariadb.log >&2 2>/dev/null || true
}
cf_setup

c0() { cl exec 0 "$@"; }
sock() { sed -n 's/^socket=//p' "$(host_dir "$1")/mariadb/my.cnf"; }
# root on host K's MariaDB (unix socket), database vs
on() { local k=$1; shift; mariadb --no-defaults --socket="$(sock "$k")" -uroot -N -B vs "$@"; }
# SHOW SLAVE STATUS of host K, one "Field: value" a line
slave_status() { on "$1" --column-names -e 'SHOW SLAVE STATUS\G'; }
now_ns() { date +%s%N; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }

# The tables the batch writes, as one line per table: name, rows, md5 of its rows (sorted).
table_sums() {
  local k=$1 t
  for t in "${TABLES[@]}"; do
    on "$k" -e "SELECT * FROM $t" >"$work/dump.raw" || fail "dump of $t"
    LC_ALL=C sort "$work/dump.raw" >"$work/dump"
    printf '%s %s rows %s\n' "$t" "$(wc -l <"$work/dump")" "$(md5sum <"$work/dump" | cut -c1-32)"
  done
}

# The host the cluster's record names as the MariaDB primary (its address's last octet - 1).
primary_host() {
  local addr
  addr=$(sed -n 's/^primary=//p' "$VS_CLUSTER_HOME/db-primary")
  addr=${addr%:*}
  echo $((${addr##*.} - 1))
}

# An INSERT by the vs user over TLS from host 0's namespace into host K's server; prints the error.
vs_insert() {
  local k=$1 url pw port
  url=$(sed -n 's/^export VS_DB_PRIMARY=//p' "$(host_dir 0)/env")
  pw=${url#mysql://vs:} pw=${pw%%@*}
  port=$( ((k == 0)) && echo 7406 || echo 7407)
  MYSQL_PWD=$pw ip netns exec "${VS_CLUSTER_PREFIX}0" mariadb --no-defaults -h "$VS_CLUSTER_SUBNET.$((k + 1))" \
    -P "$port" -u vs --ssl-ca="$VS_CLUSTER_HOME/certs/ca.pem" --ssl-verify-server-cert vs \
    -e "INSERT INTO replication_probe (token) VALUES ('cluster-failover-$$')" 2>&1
}

# ------------------------------------------------------------ the cluster, a settled day
t0=$SECONDS
cl up --hosts 3 --set VS_BATCH_SCHEDULE=off >"$work/up.log" 2>&1 || fail "cluster up: $(tail -n 5 "$work/up.log")"
echo "cluster up in $((SECONDS - t0)) s"
(($(primary_host) == 0)) || fail "the primary is not on host 0 after up"
for k in 0 1 2; do
  f=$(sed -n 's/^export VS_DB_PRIMARY_FILE=//p' "$(host_dir "$k")/env")
  [[ $f == "$(host_dir "$k")/db-primary" && -f $f ]] || fail "host $k's env does not name its own primary-address file ($f)"
done
cl status >"$work/status0" || fail "status after up: $(cat "$work/status0")"
grep -q "mariadb-primary .*role=primary semisync=ON" "$work/status0" || fail "the primary's semi-sync is not ON: $(cat "$work/status0")"
(($(grep -c "mariadb-replica .*role=replica semisync=ON" "$work/status0") == 2)) ||
  fail "the replicas do not acknowledge (semisync): $(cat "$work/status0")"

export XDG_CONFIG_HOME=$work/users/op
c0 vs-gen "${GEN[@]}" >"$work/gen.log" 2>&1 || fail "vs-gen: $(tail -n 3 "$work/gen.log")"
printf 'cluster-test-password\n' | c0 vsctl user signup --email op@test.invalid --name op --password-stdin >/dev/null
c0 vsctl admin grant --email op@test.invalid --role admin >/dev/null
printf 'cluster-test-password\n' | c0 vsctl user login --email op@test.invalid --password-stdin >/dev/null
c0 vsctl batch run --date "$DAY" --wait >"$work/run-before.log" 2>&1 || fail "job $DAY before the fault: $(tail -n 3 "$work/run-before.log")"
table_sums 0 >"$work/before.sums"
echo "settled $DAY before the fault:"; cat "$work/before.sums"

# ------------------------------------------------------------ Play load through three vsds
cf_plays_setup failover

semi() { on 0 -e "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_$1'" | awk '{print $2}'; }
yes_before=$(semi yes_tx) no_before=$(semi no_tx)
cf_start_loaders
[[ $(semi status) == ON ]] || fail "semi-sync is not ON on the primary under load"
yes_tx=$(semi yes_tx) no_tx=$(semi no_tx)
echo "before the fault: semi-sync ON, $((yes_tx - yes_before)) commits acknowledged by a replica, $((no_tx - no_before)) not"
((yes_tx > yes_before)) || fail "no commit under load was acknowledged by a replica (Rpl_semi_sync_master_yes_tx)"

# ------------------------------------------------------------ the fault and the failover
t_kill=$(now_ns)
kill -9 "$(cat "$(host_dir 0)/mariadb/mariadb.pid")"
sleep 1 # the operator's reaction, compressed: the loaders see writes fail meanwhile
t_fo=$(now_ns)
cl failover >"$work/failover.log" 2>&1 || fail "failover: $(cat "$work/failover.log")"
t_fo_end=$(now_ns)
cat "$work/failover.log"
new=$(primary_host)
((new == 1 || new == 2)) || fail "the record names host $new as the primary after the failover"
other=$((3 - new))
for k in 0 1 2; do
  cmp -s "$VS_CLUSTER_HOME/db-primary" "$(host_dir "$k")/db-primary" || fail "host $k's primary-address file was not rewritten"
done

# every loader acknowledged again, then a little more load on the new primary
cf_wait_resumed "$t_kill" "the failover"
sleep 3
cf_stop_loaders
last=$(cf_resumed_ns "$t_kill")
cf_collect_acks
echo "failover command $(secs $((t_fo_end - t_fo))) s; writes resumed $(secs $((last - t_fo))) s after it started, $(secs $((last - t_kill))) s after the kill (1 s of it before the command)"
echo "Plays: ${#acked[@]} acknowledged, $failed attempts failed (retried with the same event id)"

# ------------------------------------------------------------ nothing acknowledged lost
in_list=$(IFS=,; echo "${acked[*]}")
rows=$(on "$new" -e "SELECT COUNT(*) FROM play_log WHERE event_id IN ($in_list)")
distinct=$(on "$new" -e "SELECT COUNT(DISTINCT event_id) FROM play_log WHERE event_id IN ($in_list)")
echo "new primary (host $new): $rows rows for the ${#acked[@]} acknowledged Plays, $distinct distinct"
((rows == ${#acked[@]} && distinct == ${#acked[@]})) ||
  fail "${#acked[@]} acknowledged Plays, but $rows rows ($distinct distinct event ids) in the new primary's play_log"
[[ $(on "$new" -e 'SELECT @@read_only') == 0 ]] || fail "the new primary is read-only"

# the other replica follows the new primary
read -r mhost mport io sqlt < <(slave_status "$other" | awk -F': ' '
  /^ *Master_Host:/ { h = $2 } /^ *Master_Port:/ { p = $2 } /^ *Slave_IO_Running:/ { i = $2 }
  /^ *Slave_SQL_Running:/ { s = $2 } END { print h, p, i, s }')
[[ $mhost == "$VS_CLUSTER_SUBNET.$((new + 1))" && $io == Yes && $sqlt == Yes ]] ||
  fail "host $other replicates from $mhost:$mport (io=$io sql=$sqlt), not from the new primary on host $new"
pos=$(on "$new" -e 'SELECT @@gtid_binlog_pos')
[[ $(on "$other" -e "SELECT MASTER_GTID_WAIT('$pos', 30)") == 0 ]] || fail "host $other did not reach the new primary's $pos"
orows=$(on "$other" -e "SELECT COUNT(*) FROM play_log WHERE event_id IN ($in_list)")
((orows == ${#acked[@]})) || fail "host $other holds $orows of the ${#acked[@]} acknowledged Plays"
echo "host $other replicates from host $new ($mhost:$mport) and holds them all"

# ------------------------------------------------------------ settlement after the failover
attempt_before=$(on "$new" -e "SELECT attempt FROM batch_job WHERE business_date='$DAY' ORDER BY id DESC LIMIT 1")
c0 vsctl batch run --date "$DAY" --force --wait >"$work/run-after.log" 2>&1 ||
  fail "forced re-run of $DAY after the failover: $(tail -n 3 "$work/run-after.log")"
read -r job attempt state < <(on "$new" -e "SELECT id, attempt, state FROM batch_job WHERE business_date='$DAY' ORDER BY id DESC LIMIT 1")
((attempt > attempt_before && state == 4)) ||
  fail "the re-run of $DAY is job $job attempt $attempt in state $state on the new primary (before: attempt $attempt_before)"
table_sums "$new" >"$work/after.sums"
diff "$work/before.sums" "$work/after.sums" || fail "the re-run after the failover changed $DAY's tables"
echo "settlement after the failover: job $job attempt $attempt completed (coordinator on host 0), tables as before"

# ------------------------------------------------------------ the old primary comes back
# Started from its my.cnf, as a supervisor would: read-only, and no INSERT by vs (not a job of
# this shell: tools/cluster down stops it)
(ip netns exec "${VS_CLUSTER_PREFIX}0" setsid mariadbd --defaults-file="$(host_dir 0)/mariadb/my.cnf" \
  </dev/null >>"$work/old-primary.log" 2>&1 &)
for _ in $(seq 1 600); do on 0 -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
[[ $(on 0 -e 'SELECT @@read_only') == 1 ]] || fail "the old primary started again is not read-only"
if out=$(vs_insert 0); then fail "the old primary accepted an INSERT: $out"; fi
grep -q 'ERROR 1290 .*read-only' <<<"$out" || fail "the old primary refused the INSERT, but not as read-only: $out"
echo "old primary started again: read_only=1; INSERT refused: $(grep ERROR <<<"$out")"
cl up >"$work/up2.log" 2>&1 || fail "up after the failover: $(tail -n 5 "$work/up2.log")"
(($(primary_host) == new)) || fail "up moved the primary away from host $new"
cl status >"$work/status2" || fail "status after the old primary rejoined: $(cat "$work/status2")"
grep -q "mariadb-replica .*role=replica semisync=ON io=Yes sql=Yes" <(grep "^${VS_CLUSTER_PREFIX}0 " "$work/status2") ||
  fail "host 0 is not a replica: $(cat "$work/status2")"
pos=$(on "$new" -e 'SELECT @@gtid_binlog_pos')
[[ $(on 0 -e "SELECT MASTER_GTID_WAIT('$pos', 30)") == 0 ]] || fail "host 0 did not reach the new primary's $pos"
rows0=$(on 0 -e "SELECT COUNT(*) FROM play_log WHERE event_id IN ($in_list)")
((rows0 == ${#acked[@]})) || fail "host 0, a replica again, holds $rows0 of the ${#acked[@]} acknowledged Plays"
if out=$(vs_insert 0); then fail "the old primary, a replica again, accepted an INSERT: $out"; fi
out=$(vs_insert "$new") || fail "the new primary refused an INSERT by vs: $out"
echo "tools/cluster up: host 0 replicates from host $new, holds every acknowledged Play, still read-only"

# ------------------------------------------------------------ no replica answers: refused
for k in 0 "$other"; do kill -9 "$(cat "$(host_dir "$k")/mariadb/mariadb.pid")"; done
cp "$VS_CLUSTER_HOME/db-primary" "$work/record"
if cl failover >"$work/failover2.log" 2>&1; then fail "failover with no replica answering succeeded: $(cat "$work/failover2.log")"; fi
grep -q 'no replica answers' "$work/failover2.log" || fail "failover refused unclearly: $(cat "$work/failover2.log")"
cmp -s "$work/record" "$VS_CLUSTER_HOME/db-primary" || fail "the refused failover changed the record"
[[ $(on "$new" -e 'SELECT @@read_only') == 0 ]] || fail "the refused failover fenced the primary"
echo "no replica answering: $(grep -m 1 'no replica answers' "$work/failover2.log")"
echo "PASS: failover across hosts lost no acknowledged Play, writes resumed, the other replica follows, settlement completes, the old primary stays read-only"
