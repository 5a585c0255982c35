# shellcheck shell=bash disable=SC2034,SC2154  # sets build_type etc. for the caller; uses its $logs
# tools/lib/bench.sh: shell shared by the batch benchmarks (tools/bench-batch, tools/bench-days;
# sourced, not run). The caller sets ROOT, BENCH_TAG (prefix of messages) and VS_HOME (its own
# stack's directory) before sourcing.

die() { printf '%s: error: %s\n' "$BENCH_TAG" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$BENCH_TAG" "$*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
thousands() { sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta' <<<"$1"; }
seconds() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

# bench_find_build: $build = $VS_BUILD_DIR, else build/, else the newest build*/ with a worker;
# $build_type from its cache; warns about a sanitizer build.
bench_find_build() {
  build=${VS_BUILD_DIR:-}
  [[ -z $build && -x $ROOT/build/batch/vs-worker ]] && build=$ROOT/build
  if [[ -z $build ]]; then
    # shellcheck disable=SC2012 # names are ours, no newlines
    build=$(ls -td "$ROOT"/build*/ 2>/dev/null | while read -r d; do
      [[ -x $d/batch/vs-worker ]] && { echo "${d%/}"; break; }; done || true)
  fi
  local p
  for p in batch/vs-coordinator batch/vs-worker client/vsctl server/vsd tools/vs-gen; do
    [[ -n $build && -x $build/$p ]] ||
      die "no built $p (cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2)"
  done
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
  if grep -q '^VS_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    say "warning: $build is a sanitizer build; its figures are not representative"
  fi
}

# bench_stack_up MARKER: the bench's own stack in $VS_HOME (VS_DB_BUFFER_POOL default 6G so a
# day fits in memory); MARKER is left in a stack this bench created; sql/sql_replica talk to it.
bench_stack_up() {
  local marker=$1 fresh=0
  [[ -f $VS_HOME/env ]] || fresh=1
  VS_PORT_BASE=${VS_PORT_BASE:-auto} VS_DB_BUFFER_POOL=${VS_DB_BUFFER_POOL:-6G} \
    "$ROOT/tools/stack" up >&2
  ((fresh)) && touch "$VS_HOME/$marker"
  ((EUID == 0)) || die "run as root (the bench talks to MariaDB as root over its unix sockets)"
  primary_sock=$(bench_env VS_DB_PRIMARY_SOCKET)
  replica_sock=$(bench_env VS_DB_REPLICA_SOCKET)
}
bench_env() { sed -n "s/^export $1=//p" "$VS_HOME/env" | tail -n 1; }
sql() { mariadb --no-defaults --protocol=socket -S "$primary_sock" -uroot --batch --skip-column-names vs -e "$1"; }
sql_replica() { mariadb --no-defaults --protocol=socket -S "$replica_sock" -uroot --batch --skip-column-names vs -e "$1"; }

# bench_empty_batch_tables: every settled figure and job gone (a first settlement follows).
bench_empty_batch_tables() {
  sql "DELETE FROM batch_partial_chunk; DELETE FROM batch_partition; DELETE FROM batch_job;
       DELETE FROM video_top; DELETE FROM video_period_stats; DELETE FROM settlement_daily;
       DELETE FROM video_cumulative; DELETE FROM video_daily_stats"
}

# bench_gen ARGS...: tools/gen into the stack (exit 3 = that data set is loaded already), then
# waits for the replica to apply it.
bench_gen() {
  local t0 rc pos
  t0=$(now_ms)
  set +e
  "$build/tools/vs-gen" "$@" >&2
  rc=$?
  set -e
  case $rc in
    0) say "generated in $((($(now_ms) - t0) / 1000)) s" ;;
    3) say "reusing the data set already loaded" ;;
    *) die "tools/gen failed ($rc)" ;;
  esac
  t0=$(now_ms)
  pos=$(sql "SELECT @@gtid_binlog_pos")
  [[ $(sql_replica "SELECT MASTER_GTID_WAIT('$pos', 1800)") == 0 ]] || die "the replica did not catch up"
  say "replica caught up in $((($(now_ms) - t0) / 1000)) s"
}

# bench_admin_login: logs the bench's admin in through vsd (the token under $XDG_CONFIG_HOME);
# a token lasts VS_TOKEN_TTL_S (an hour by default), so a longer run logs in again.
BENCH_ADMIN=bench-admin@vs.local
# bench_admin_password [SECRET_FILE]: derived from the stack's token secret (default: $VS_HOME's)
bench_admin_password() { printf 'bench-password-%s\n' "$(sha256sum "${1:-$(bench_env VS_JWT_SECRET_FILE)}" | cut -c1-16)"; }
bench_admin_login() {
  bench_admin_password | "$build/client/vsctl" user login --email "$BENCH_ADMIN" --password-stdin >/dev/null
}

# bench_processes_up WORKERS THREADS: vsd (for the admin's log-in), the bench's admin account
# (token under $logs), vs-coordinator ($coord) and WORKERS vs-worker processes ($workers_pids);
# bench_processes_down stops them (also on exit).
bench_processes_up() {
  local workers=$1 threads=$2 i
  mkdir -p "$logs"
  pids=()
  trap bench_processes_down EXIT
  export XDG_CONFIG_HOME=$logs/config
  "$build/server/vsd" 2>"$logs/vsd.log" &
  pids+=($!)
  for _ in $(seq 1 100); do "$build/client/vsctl" --timeout 500 health >/dev/null 2>&1 && break; sleep 0.1; done
  bench_admin_password | "$build/client/vsctl" user signup --email "$BENCH_ADMIN" --name "Bench operator" \
    --password-stdin >/dev/null 2>&1 || true
  "$build/client/vsctl" admin grant --email "$BENCH_ADMIN" --role admin >/dev/null
  bench_admin_login || die "cannot log in as the bench's admin (see $logs/vsd.log)"
  # the bench starts its jobs itself: the schedule would settle its old dates at once
  VS_BATCH_SCHEDULE=off "$build/batch/vs-coordinator" 2>"$logs/coordinator.log" &
  coord=$!
  pids+=("$coord")
  workers_pids=()
  for ((i = 0; i < workers; i++)); do
    "$build/batch/vs-worker" --threads "$threads" --name "bench-$i" 2>"$logs/worker-$i.log" &
    workers_pids+=($!)
    pids+=($!)
  done
  sleep 1
}
bench_processes_down() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

# CPU time (user + system, ms) of a process so far; 0 when it is gone
cpu_ms() { awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / t) }' "/proc/$1/stat" 2>/dev/null || echo 0; }
db_pid() { pgrep -f -- "--defaults-file=$VS_HOME/$1/my.cnf" | head -n 1; }
hwm() { sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null || echo "?"; }

# bench_disk_report: what the stack's play rows cost on disk, per row of play_log — the table and
# each of its indexes, the binlogs and the relay logs, on the primary and the replica. Allocated
# bytes (du), so page compression's punched holes count as saved. Index shares are InnoDB's
# logical pages (mysql.innodb_index_stats, after ANALYZE), i.e. before page compression.
bench_disk_report() {
  local n dir role idx line
  n=$(sql "SELECT COUNT(*) FROM play_log")
  ((n > 0)) || return 0
  per() { awk -v b="$1" -v n="$n" 'BEGIN { printf "%.0f", b / n }'; }
  bytes() { du -B1 -sc "$@" 2>/dev/null | tail -n 1 | cut -f1; }
  sql "ANALYZE TABLE play_log" >/dev/null
  idx=$(sql "SELECT GROUP_CONCAT(CONCAT(index_name, ' ', ROUND(stat_value * @@innodb_page_size / $n))
             ORDER BY index_name SEPARATOR ', ') FROM mysql.innodb_index_stats
             WHERE database_name = 'vs' AND table_name = 'play_log' AND stat_name = 'size'")
  printf '  disk:       %s play rows in play_log, bytes per row (allocated on disk):\n' "$(thousands "$n")"
  for role in primary replica; do
    dir=$VS_HOME/$role/data
    [[ -d $dir ]] || continue
    line="play_log.ibd $(per "$(bytes "$dir/vs/play_log.ibd")")"
    line+=" (apparent $(per "$(du -B1 -s --apparent-size "$dir/vs/play_log.ibd" | cut -f1)"))"
    line+=", binlogs $(per "$(bytes "$dir"/binlog.[0-9]*)"), relay logs $(per "$(bytes "$dir"/relay-bin.[0-9]*)")"
    line+=", whole datadir $(per "$(bytes "$dir")")"
    printf '              %-8s %s\n' "$role:" "$line"
  done
  printf '              index logical sizes per row: %s\n' "$idx"
}
