#!/usr/bin/env bash
# cluster_settlement.sh — settlement across hosts (docs/deploy.md): the same two days of play rows
# settled (1) on the single-host test stack with one worker and (2) on a three-host tools/cluster
# (network namespaces; every nng socket on tls+tcp://, MariaDB over TLS) with a worker on each of
# two hosts reading its own host's replica. Then:
#   - day 1 on the cluster: both worker hosts did partitions, and every table the batch writes is
#     identical to the single-host run's;
#   - day 2 on the cluster, with host 2 cut off from the network (ip link down) once the job is
#     under way: the partitions it held are leased again after their lease runs out, the job
#     completes on host 1 alone, and the tables are again identical to the single-host run's;
#     host 2, back on the network, takes part in a forced re-run;
#   - one viewer's Plays alternating between two hosts' vsds keep the repeat rule and the resume
#     position, and a client holding both vsd URLs keeps playing while one vsd is killed, every
#     acknowledged Play being one row of the play log.
# Root only (network namespaces). Everything it starts is stopped on exit, pass or fail.
set -euo pipefail

: "${VS_TEST_HOME:?run through ctest}" "${VS_BUILD_DIR:?}" "${VS_SOURCE_DIR:?}"
TOOLS=$VS_SOURCE_DIR/tools
BIN=$VS_BUILD_DIR
DAY1=2015-06-01 DAY2=2015-06-02
GEN=(--rows 400000 --days 2 --videos 300 --users 3000 --seed 23 --start "$DAY1")
TABLES=(video_daily_stats video_cumulative settlement_daily video_period_stats video_top)

work=$(mktemp -d "$VS_TEST_HOME/cluster-settlement.XXXXXX")
export VS_CLUSTER_HOME=$work/cluster VS_CLUSTER_PREFIX=vst$$ VS_CLUSTER_SUBNET=10.239.$(($$ % 200)) \
  VS_CLUSTER_BIN=$BIN VS_CLUSTER_NNG_TLS=1
ref_pids=() ref_sql=()
cleanup() {
  local rc=$?
  for p in "${ref_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((rc != 0)); then
    echo "--- failed; the cluster's logs:" >&2
    tail -n 15 "$VS_CLUSTER_HOME"/hosts/*/logs/*.log >&2 2>/dev/null || true
    tail -n 15 "$work"/ref/*.log >&2 2>/dev/null || true
  fi
  "$TOOLS/cluster" down --purge >/dev/null 2>&1 || true
  ((${#ref_sql[@]} == 0)) || "${ref_sql[@]:0:3}" -e "DROP DATABASE IF EXISTS $refdb" 2>/dev/null || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The tables the batch writes, as one line per table: name, rows, md5 of its rows (sorted). $1: mariadb command prefix (socket, database).
table_sums() {
  local t
  for t in "${TABLES[@]}"; do
    "$@" -N -B -e "SELECT * FROM $t" >"$work/dump.raw" || fail "dump of $t"
    LC_ALL=C sort "$work/dump.raw" >"$work/dump"
    printf '%s %s rows %s\n' "$t" "$(wc -l <"$work/dump")" "$(md5sum <"$work/dump" | cut -c1-32)"
  done
}

# ------------------------------------------------------------ (1) the single-host reference
mkdir -p "$work/ref"
refdb=vs_cluster_ref_$$
ref_sql=(mariadb --socket="$(sed -n 's/^export VS_DB_PRIMARY_SOCKET=//p' "$VS_TEST_HOME/env")" -uroot)
"${ref_sql[@]}" -e "DROP DATABASE IF EXISTS $refdb; CREATE DATABASE $refdb;
  GRANT ALL ON $refdb.* TO 'vs'@'127.0.0.1', 'vs'@'localhost'"
ref_sql+=("$refdb")
sed -e "s#^\(export VS_DB_[A-Z]*=mysql://.*\)/vs\$#\1/$refdb#" "$VS_TEST_HOME/env" >"$work/ref/env"
"$TOOLS/migrate" --env "$work/ref/env" >"$work/ref/migrate.log" 2>&1 || fail "migrate: $(tail -n 3 "$work/ref/migrate.log")"
(
  set -a
  # shellcheck disable=SC1091
  . "$work/ref/env"
  set +a
  export VS_URL=ipc://$work/ref/vsd.ipc VS_COORD_URL=ipc://$work/ref/coord.ipc
  export VS_TASK_URL=ipc://$work/ref/task.ipc VS_RESULT_URL=ipc://$work/ref/result.ipc
  export XDG_CONFIG_HOME=$work/ref/config
  "$BIN/tools/vs-gen" "${GEN[@]}" >"$work/ref/gen.log" 2>&1 || fail "vs-gen: $(tail -n 3 "$work/ref/gen.log")"
  "$BIN/server/vsd" --threads 2 2>"$work/ref/vsd.log" &
  echo $! >"$work/ref/vsd.pid"
  for _ in $(seq 1 100); do "$BIN/client/vsctl" --timeout 500 health >/dev/null 2>&1 && break; sleep 0.1; done
  printf 'cluster-test-password\n' | "$BIN/client/vsctl" user signup --email ref@test.invalid \
    --name ref --password-stdin >/dev/null
  "$BIN/client/vsctl" admin grant --email ref@test.invalid --role admin >/dev/null
  printf 'cluster-test-password\n' | "$BIN/client/vsctl" user login --email ref@test.invalid \
    --password-stdin >/dev/null
  VS_BATCH_SCHEDULE=off "$BIN/batch/vs-coordinator" 2>"$work/ref/coordinator.log" &
  echo $! >"$work/ref/coord.pid"
  "$BIN/batch/vs-worker" --name ref 2>"$work/ref/worker.log" &
  echo $! >"$work/ref/worker.pid"
  for d in "$DAY1" "$DAY2"; do
    "$BIN/client/vsctl" batch run --date "$d" --wait >"$work/ref/run-$d.log" 2>&1 ||
      fail "single-host job $d: $(tail -n 3 "$work/ref/run-$d.log")"
  done
)
for f in vsd coord worker; do ref_pids+=("$(cat "$work/ref/$f.pid")"); done
for p in "${ref_pids[@]}"; do kill "$p" 2>/dev/null || true; done
table_sums "${ref_sql[@]}" >"$work/ref.sums"
echo "single host:"; cat "$work/ref.sums"

# ------------------------------------------------------------ (2) the cluster
t0=$SECONDS
"$TOOLS/cluster" up --hosts 3 --set VS_BATCH_PARTITION_IDS=5000 --set VS_BATCH_LEASE_MS=4000 \
  --set VS_BATCH_SCHEDULE=off \
  >"$work/up.log" 2>&1 || fail "cluster up: $(tail -n 5 "$work/up.log")"
echo "cluster up in $((SECONDS - t0)) s"
grep -q '^export VS_URL=tls+tcp://' "$("$TOOLS/cluster" env 1 --path)" || fail "the cluster's URLs are not tls+tcp://"
c0() { "$TOOLS/cluster" exec 0 "$@"; }
cl_sql=(mariadb --socket="$(sed -n 's/^export VS_DB_PRIMARY_SOCKET=//p' "$("$TOOLS/cluster" env 0 --path)")" -uroot vs)
export XDG_CONFIG_HOME=$work/cluster-config
c0 vs-gen "${GEN[@]}" >"$work/gen.log" 2>&1 || fail "vs-gen on the cluster: $(tail -n 3 "$work/gen.log")"
printf 'cluster-test-password\n' | c0 vsctl user signup --email op@test.invalid --name op --password-stdin >/dev/null
c0 vsctl admin grant --email op@test.invalid --role admin >/dev/null
printf 'cluster-test-password\n' | c0 vsctl user login --email op@test.invalid --password-stdin >/dev/null

# day 1: workers on two hosts
c0 vsctl batch run --date "$DAY1" --wait >"$work/run1.log" 2>&1 || fail "cluster job $DAY1: $(tail -n 3 "$work/run1.log")"
job1=$("${cl_sql[@]}" -N -e "SELECT id FROM batch_job WHERE business_date='$DAY1' ORDER BY id DESC LIMIT 1")
# worker names are HOST/THREAD
workers=$("${cl_sql[@]}" -N -e "SELECT GROUP_CONCAT(DISTINCT SUBSTRING_INDEX(worker, '/', 1) ORDER BY 1) FROM batch_partition WHERE job_id=$job1")
echo "day 1: partitions done by $workers"
[[ $workers == "${VS_CLUSTER_PREFIX}1,${VS_CLUSTER_PREFIX}2" ]] || fail "day 1 was not shared by the two worker hosts: $workers"

# day 2: host 2 cut off while it holds partitions. The job is too quick to catch a worker in the
# middle of one here, so host 2's worker is frozen (SIGSTOP) first: the tasks the coordinator
# pushes to it wait in its socket, leased and never answered. Then its link goes down and it is
# let go (SIGCONT) into a network it can no longer reach: what a host that vanished does.
w2=$(cat "$VS_CLUSTER_HOME/hosts/${VS_CLUSTER_PREFIX}2/pids/vs-worker.pid")
kill -STOP "$w2"
c0 vsctl batch run --date "$DAY2" >"$work/run2.log" 2>&1 || fail "cluster job $DAY2: $(tail -n 3 "$work/run2.log")"
job2=$("${cl_sql[@]}" -N -e "SELECT id FROM batch_job WHERE business_date='$DAY2' ORDER BY id DESC LIMIT 1")
for _ in $(seq 1 300); do # host 1 under way (bounded: 30 s)
  done_parts=$("${cl_sql[@]}" -N -e "SELECT COUNT(*) FROM batch_partition WHERE job_id=$job2 AND state=3")
  ((done_parts > 0)) && break
  sleep 0.1
done
held=$("${cl_sql[@]}" -N -e "SELECT COUNT(*) FROM batch_partition WHERE job_id=$job2 AND state=2")
"$TOOLS/cluster" cut 2 >/dev/null
kill -CONT "$w2"
echo "day 2: host 2 cut off; $done_parts partition(s) done, $held leased"
for _ in $(seq 1 1200); do # the job's end (bounded: 120 s)
  state=$("${cl_sql[@]}" -N -e "SELECT state FROM batch_job WHERE id=$job2")
  ((state >= 4)) && break
  sleep 0.1
done
"$TOOLS/cluster" heal 2 >/dev/null
((state == 4)) || fail "job $job2 ($DAY2) ended in state $state, not COMPLETED (4): $("${cl_sql[@]}" -N -e "SELECT error FROM batch_job WHERE id=$job2")"
reissued=$("${cl_sql[@]}" -N -e "SELECT COUNT(*) FROM batch_partition WHERE job_id=$job2 AND attempt > 1")
echo "day 2: completed, $reissued partition(s) leased more than once"
by2=$("${cl_sql[@]}" -N -e "SELECT COUNT(*) FROM batch_partition WHERE job_id=$job2 AND worker LIKE '${VS_CLUSTER_PREFIX}2/%'")
((reissued >= 1)) || fail "no partition was leased again after host 2 was cut off"
((by2 == 0)) || fail "$by2 partition(s) of $DAY2 are recorded as done by the cut-off host 2"

# host 2 back: once its worker has connected to the coordinator again (nng redials by itself), it
# takes work again: a forced re-run of both days
addr2=$(sed -n 's#^export VS_URL=[a-z+]*://\([0-9.]*\):.*#\1#p' "$("$TOOLS/cluster" env 2 --path)")
task_port=$(sed -n 's#^export VS_TASK_URL=.*:\([0-9]*\)$#\1#p' "$("$TOOLS/cluster" env 0 --path)")
for _ in $(seq 1 600); do # bounded: 60 s
  ip netns exec "${VS_CLUSTER_PREFIX}0" ss -Htn state established "( sport = :$task_port )" |
    grep -q " $addr2:" && break
  sleep 0.1
done
if ! ip netns exec "${VS_CLUSTER_PREFIX}0" ss -Htn state established "( sport = :$task_port )" |
  grep -q " $addr2:"; then
  ip netns exec "${VS_CLUSTER_PREFIX}2" ss -Htno >&2 || true
  fail "host 2's worker did not connect to the coordinator again within 60 s"
fi
c0 vsctl batch run --date "$DAY1" --force --wait >"$work/rerun.log" 2>&1 ||
  fail "forced re-run of $DAY1: $(tail -n 3 "$work/rerun.log")"
for _ in $(seq 1 600); do # the re-run of day 2 follows by itself (bounded: 60 s)
  state=$("${cl_sql[@]}" -N -e "SELECT IF(attempt > 1, state, 0) FROM batch_job WHERE id=$job2")
  ((state >= 4)) && break
  sleep 0.1
done
((state == 4)) || fail "the re-run of $DAY2 ended in state $state"
back=$("${cl_sql[@]}" -N -e "SELECT COUNT(*) FROM batch_partition WHERE job_id IN ($job1, $job2) AND worker LIKE '${VS_CLUSTER_PREFIX}2/%'")
echo "re-run after the heal: host 2 did $back partition(s)"
((back > 0)) || fail "host 2 took no work after it came back"

# ------------------------------------------------------------ (3) two vsds, one viewer
# Plays alternate between host 1's and host 2's vsd: the repeat rule and the resume position hold
# across them (Redis and the primary are shared). Then a client holding both URLs keeps playing
# while host 1's vsd is killed (-9): every acknowledged Play is one row of the play log.
ip1=$(sed -n 's#^export VS_URL=##p' "$("$TOOLS/cluster" env 1 --path)")
ip2=$(sed -n 's#^export VS_URL=##p' "$("$TOOLS/cluster" env 2 --path)")
as() { local who=$1; shift; XDG_CONFIG_HOME=$work/users/$who c0 "$@"; }
for who in creator viewer; do
  printf 'cluster-test-password\n' | as "$who" vsctl user signup --email "$who@test.invalid" --name "$who" --password-stdin >/dev/null
  printf 'cluster-test-password\n' | as "$who" vsctl user login --email "$who@test.invalid" --password-stdin >/dev/null
done
video=$(as creator vsctl --json video create --title "two vsds" --duration 600 | grep -o '"id": *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
[[ -n $video ]] || fail "no video created"
first=$(VS_URL=$ip1 as viewer vsctl --json play start "$video")
VS_URL=$ip2 as viewer vsctl play pause "$video" --position 5 >/dev/null
second=$(VS_URL=$ip2 as viewer vsctl --json play start "$video")
echo "on host 1: $first"
echo "on host 2: $second"
grep -q '"view_counted": *true' <<<"$first" || fail "the first Play was not counted"
grep -q '"view_counted": *false' <<<"$second" && grep -q '"reason": *"REPEAT"' <<<"$second" ||
  fail "a Play on the other vsd within 30 s was not a REPEAT"
grep -q '"resume_position_s": *5\b' <<<"$second" || fail "the other vsd did not resume at 5 s"

acked=() failed=0
for i in $(seq 1 40); do
  if ((i == 15)); then
    kill -9 "$(cat "$VS_CLUSTER_HOME/hosts/${VS_CLUSTER_PREFIX}1/pids/vsd.pid")"
    echo "host 1's vsd killed after 14 Plays"
  fi
  id=cluster-play-$$-$i
  if VS_URL=$ip1,$ip2 as viewer vsctl --timeout 5000 play start "$video" --event-id "$id" >/dev/null 2>&1; then
    acked+=("'$id'")
  else
    failed=$((failed + 1))
  fi
done
rows=$("${cl_sql[@]}" -N -e "SELECT COUNT(*) FROM play_log WHERE event_id IN ($(IFS=,; echo "${acked[*]}"))")
echo "two URLs, one vsd killed: ${#acked[@]} Plays acknowledged, $failed failed, $rows rows"
((failed == 0)) || fail "$failed Play(s) failed although the other vsd was up"
((rows == ${#acked[@]})) || fail "${#acked[@]} acknowledged Plays but $rows rows in the play log"

table_sums "${cl_sql[@]}" >"$work/cluster.sums"
echo "cluster:"; cat "$work/cluster.sums"
diff "$work/ref.sums" "$work/cluster.sums" || fail "the cluster's tables differ from the single-host run's"
echo "PASS: identical tables; a cut-off worker host's partitions were leased again and it took work when back; Plays across two vsds"
