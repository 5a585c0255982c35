# shellcheck shell=bash disable=SC2034  # JOIN_* and FO_* are results for the caller
# tools/lib/failover.sh: MariaDB semi-synchronous replication and failover, shared by tools/stack
# and tools/cluster (sourced after tools/lib/servers.sh, not run). See docs/stack.md "Failover" and
# docs/deploy.md "Losing the primary host".
#
# The caller names its MariaDB servers by ids (tools/stack: "primary" and "replica", the servers'
# directories; tools/cluster: host indexes 0..N-1), lists them in DB_SERVERS, sets TOOL (its
# command, for messages) and WAIT_SECS, and defines for a server id:
#   sql ID ARGS...            root's SQL on the server (over its unix socket)
#   db_sock ID, db_dir ID     its unix socket, its directory
#   db_pid ID                 its mariadbd's pid, when that runs
#   db_addr ID                HOST:PORT where programs and replicas reach it
#   db_label ID               its name in messages
#   write_db_cnf ID ROLE      its my.cnf for ROLE (primary or replica), with semisync_cnf's lines
#   start_db ID               starts it from its my.cnf unless it runs
#   change_master_sql ID      the CHANGE MASTER TO statement (ending in ;) that makes a server a
#                             replica of server ID
#   publish_primary ID        tells every program that server ID is the primary (the primary-address
#                             file(s) VS_DB_PRIMARY_FILE names, written atomically)
# Roles move between servers; names, directories and ports stay.

semisync_on() {
  case ${VS_DB_SEMISYNC:-on} in
    on) return 0 ;;
    off) return 1 ;;
    *) die "VS_DB_SEMISYNC must be on or off (got ${VS_DB_SEMISYNC})" ;;
  esac
}
semisync_timeout() {
  local t=${VS_DB_SEMISYNC_TIMEOUT_MS:-1000}
  if ! [[ $t =~ ^[0-9]+$ ]] || ((t < 1 || t > 60000)); then
    die "VS_DB_SEMISYNC_TIMEOUT_MS must be 1..60000 (got $t)"
  fi
  echo "$t"
}

# semisync_cnf ROLE: the my.cnf lines of both sides of semi-sync replication. The primary waits
# (after its binlog is synced, before the engine commit) until a replica has the transaction; a
# replica acknowledges, and when it starts after a crash as a replica (init-rpl-role=SLAVE) it rolls
# back and cuts from its binlog the transactions it had not committed (those were waiting for an
# acknowledgement): a demoted primary forgets what was never confirmed to a client.
semisync_cnf() {
  local role=$1 timeout
  timeout=$(semisync_timeout)
  if semisync_on; then
    echo "rpl_semi_sync_slave_enabled=ON"
    if [[ $role == primary ]]; then
      echo "rpl_semi_sync_master_enabled=ON"
    fi
  fi
  cat <<EOF
rpl_semi_sync_master_wait_point=AFTER_SYNC
rpl_semi_sync_master_timeout=$timeout
# No replica connected: do not wait at all (a dead replica would otherwise cost each commit the timeout once).
rpl_semi_sync_master_wait_no_slave=OFF
EOF
  if [[ $role != primary ]]; then
    echo "init-rpl-role=SLAVE"
  fi
}

# apply_semisync ID ROLE: the settings of a running server as its my.cnf would give them (an `up`
# with other settings, or a server whose role just changed).
apply_semisync() {
  local id=$1 role=$2 master=OFF slave=OFF was
  if semisync_on; then
    slave=ON
    [[ $role != primary ]] || master=ON
  fi
  was=$(sql "$id" -e "SET GLOBAL rpl_semi_sync_master_timeout=$(semisync_timeout),
    rpl_semi_sync_master_enabled=$master, rpl_semi_sync_master_wait_point=AFTER_SYNC,
    rpl_semi_sync_master_wait_no_slave=OFF; SELECT @@rpl_semi_sync_slave_enabled")
  if [[ $was != "$([[ $slave == ON ]] && echo 1 || echo 0)" ]]; then
    # a replica's IO thread reads the setting when it connects
    sql "$id" -e "SET GLOBAL rpl_semi_sync_slave_enabled=$slave"
    if [[ $role == replica ]]; then
      sql "$id" -e 'STOP SLAVE IO_THREAD; START SLAVE IO_THREAD' 2>/dev/null || true
    fi
  fi
}

# semisync_state ID ROLE: ON (a primary's commits wait for a replica; a replica acknowledges), OFF
# (a primary going on asynchronously because no replica acknowledged in time; a replica not
# acknowledging), or disabled.
semisync_state() {
  local side=SLAVE
  [[ $2 != primary ]] || side=MASTER
  sql "$1" -e "SELECT IF(@@rpl_semi_sync_${side,,}_enabled, VARIABLE_VALUE, 'disabled')
    FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_${side}_STATUS'"
}

db_answers() {
  mariadb-admin --no-defaults --protocol=socket --socket="$(db_sock "$1")" --connect-timeout=2 \
    -uroot ping >/dev/null 2>&1
}

# The sum of the sequence numbers of a GTID position ("0-1-5,1-2-3" → 8): which of two replicas of the
# same primary has applied more.
gtid_seq_sum() {
  tr ',' '\n' <<<"$1" | awk -F- '{ s += $3 } END { print s + 0 }'
}

# rejoin ID PRIMARY: makes server ID (running, read_only) a replica of server PRIMARY, from its own
# position: a demoted primary continues after the last transaction it has (its binlog, which its
# restart as a replica cut back to what a replica acknowledged). Fails with the replication error
# when PRIMARY does not have that history (ID keeps transactions the primary never got).
rejoin() {
  local id=$1 primary=$2 i
  log "MariaDB $(db_label "$id") joins as a replica of $(db_label "$primary") ($(db_addr "$primary"))"
  sql "$id" <<EOF
SET GLOBAL read_only=1;
STOP SLAVE;
SET GLOBAL gtid_slave_pos=@@gtid_binlog_pos;
$(change_master_sql "$primary")
START SLAVE;
EOF
  for ((i = 0; i < WAIT_SECS * 10; i++)); do
    read_slave_status "$(db_sock "$id")"
    # 1236: the primary's binlog does not continue this server's history
    if [[ $(slave_field Last_IO_Errno) == 1236 || -n $(slave_field Last_SQL_Error) ]]; then
      log "MariaDB $(db_label "$id"): $(slave_field Last_IO_Error)$(slave_field Last_SQL_Error)"
      sql "$id" -e 'STOP SLAVE' || true
      return 1
    fi
    if [[ $(slave_field Slave_IO_Running) == Yes && $(slave_field Slave_SQL_Running) == Yes ]]; then
      return 0
    fi
    sleep 0.1
  done
  log "MariaDB $(db_label "$id"): replication from $(db_label "$primary") did not start (IO=$(slave_field Slave_IO_Running) SQL=$(slave_field Slave_SQL_Running) $(slave_field Last_IO_Error))"
  return 1
}

# The message when a server stays out of the group.
fenced_msg() {
  log "error: MariaDB $(db_label "$1") stays read_only and is NOT replicating: replication from the primary ($(db_label "$2")) fails (above); after a crash that usually means it kept transactions no replica had acknowledged (never confirmed to a client while semi-sync was on). Rebuild it from the primary: $TOOL rebuild $1"
}

# replicates_from ID PRIMARY: what read_slave_status last read of server ID names PRIMARY as its
# primary.
replicates_from() {
  [[ $(slave_field Master_Host):$(slave_field Master_Port) == "$(db_addr "$2")" ]]
}

# join_replicas PRIMARY: every other running server read_only, with a replica's semi-sync settings,
# replicating from PRIMARY: still (threads restarted if stopped), or rejoined from its own position
# (a demoted primary, a replica that was down during a failover). Sets JOIN_READS (the last server
# that replicates, PRIMARY if none) and JOIN_BROKEN (the servers left out: read_only, not
# replicating, with fenced_msg's message).
join_replicas() {
  local cur=$1 s
  JOIN_READS=$cur JOIN_BROKEN=()
  for s in "${DB_SERVERS[@]}"; do
    [[ $s == "$cur" ]] && continue
    # Exactly one writable server, whatever a half-finished failover left.
    sql "$s" -e 'SET GLOBAL read_only=1'
    apply_semisync "$s" replica
    read_slave_status "$(db_sock "$s")"
    if replicates_from "$s" "$cur"; then
      if [[ $(slave_field Last_IO_Errno) != 1236 ]]; then
        ensure_replication "$(db_sock "$s")"
        JOIN_READS=$s
        continue
      fi
      log "MariaDB $(db_label "$s"): $(slave_field Last_IO_Error)"
    elif rejoin "$s" "$cur"; then
      JOIN_READS=$s
      continue
    fi
    fenced_msg "$s" "$cur"
    JOIN_BROKEN+=("$s")
  done
}

# failover_catch_up ID [POS]: replica ID, once it has applied POS (the fenced old primary's last
# GTID, when it answered), stops receiving and applies what it received; prints the GTID position
# it has applied. Fails (not a candidate) when it cannot.
failover_catch_up() {
  local s=$1 pos=$2 io wait applied
  if [[ -n $pos && $(sql "$s" -e "SELECT MASTER_GTID_WAIT('$pos', $WAIT_SECS)") != 0 ]]; then
    log "replica $(db_label "$s") did not reach $pos within ${WAIT_SECS}s: not a candidate"
    return 1
  fi
  sql "$s" -e 'STOP SLAVE IO_THREAD' || return 1
  read_slave_status "$(db_sock "$s")"
  io=$(slave_field Gtid_IO_Pos)
  # Apply everything received. A transaction the old primary sent only in part was never
  # acknowledged (a replica acknowledges whole transactions): a bounded wait, then go on.
  wait=0
  [[ -z $io ]] || wait="MASTER_GTID_WAIT('$io', 10)"
  read -r wait applied < <(sql "$s" -e "SELECT $wait, @@gtid_slave_pos") || return 1
  [[ $wait == 0 ]] ||
    log "replica $(db_label "$s"): not everything received was applied within 10 s (received $io)"
  printf '%s\n' "$applied"
}

# failover_run OLD: the most advanced replica becomes the primary in place of server OLD. The old
# primary is fenced first (read_only when it answers, and everything the replicas lack of it applied
# first: no acknowledged commit is left behind; killed when it runs but does not answer), and its
# my.cnf becomes a replica's, so a restart brings it back read_only. Running programs learn the new
# primary from publish_primary's file at their next connect; the sessions left on a live old primary
# are killed so that they reconnect. The other replicas that answer are made replicas of the new
# primary before programs are told of it (a replica acknowledges its first commit), a live old
# primary after its sessions are closed.
# Sets FO_BEST (the new primary), FO_ALIVE (1: the old primary answered and is fenced read_only) and
# FO_READS (the last server that replicates from FO_BEST, FO_BEST if none).
failover_run() {
  local old=$1 s i pid pos='' applied seq best='' best_seq=-1 best_pos='' alive=0 candidates=() killed
  local tmp waits=() t0
  t0=$(date +%s%N)
  for s in "${DB_SERVERS[@]}"; do
    [[ $s == "$old" ]] && continue
    if db_answers "$s"; then
      candidates+=("$s")
    else
      log "replica $(db_label "$s") does not answer: not a candidate"
    fi
  done
  ((${#candidates[@]})) || die "no replica answers: nothing to promote (nothing was changed)"

  # read_only waits for commits in flight: a primary that hangs (full disk, a lock) is killed instead
  if db_answers "$old" && timeout 10 mariadb --no-defaults --protocol=socket --socket="$(db_sock "$old")" \
    -uroot -e 'SET GLOBAL read_only=1' 2>/dev/null; then
    alive=1
    pos=$(sql "$old" -e 'SELECT @@gtid_binlog_pos')
    log "fenced the old primary (server $(db_label "$old")): read_only=1 at GTID $pos"
  elif pid=$(db_pid "$old"); then
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    log "the old primary (server $(db_label "$old"), pid $pid) runs but does not answer: killed"
  else
    log "the old primary (server $(db_label "$old")) is down"
  fi
  write_db_cnf "$old" replica

  # every candidate at once (each waits on its own server)
  tmp=$(mktemp -d)
  for s in "${candidates[@]}"; do
    failover_catch_up "$s" "$pos" >"$tmp/$s" &
    waits+=($!)
  done
  for i in "${!candidates[@]}"; do
    s=${candidates[$i]}
    wait "${waits[$i]}" || continue
    applied=$(cat "$tmp/$s")
    seq=$(gtid_seq_sum "$applied")
    log "replica $(db_label "$s") has applied $applied"
    if ((seq > best_seq)); then best=$s best_seq=$seq best_pos=$applied; fi
  done
  rm -rf "$tmp"
  if [[ -z $best ]]; then
    if ((alive)); then
      sql "$old" -e 'SET GLOBAL read_only=0'
      write_db_cnf "$old" primary
    fi
    die "no replica could take over (the old primary was left as it was)"
  fi

  sql "$best" <<'EOF'
STOP SLAVE;
RESET SLAVE ALL;
SET GLOBAL innodb_flush_log_at_trx_commit=1, sync_binlog=1;
SET GLOBAL read_only=0;
EOF
  apply_semisync "$best" primary
  log "promoted $(db_label "$best") ($(db_addr "$best")) at GTID $best_pos"
  FO_READS=$best
  # The other replicas first, so that a replica acknowledges the new primary's first commit (with
  # none connected it would not wait: rpl_semi_sync_master_wait_no_slave=OFF)
  for s in "${candidates[@]}"; do
    [[ $s == "$best" ]] && continue
    apply_semisync "$s" replica
    if rejoin "$s" "$best"; then FO_READS=$s; else fenced_msg "$s" "$best"; fi
  done
  for s in "${DB_SERVERS[@]}"; do
    [[ $s == "$old" || " ${candidates[*]} " == *" $s "* ]] ||
      log "MariaDB $(db_label "$s") did not answer: \`$TOOL up\` makes it a replica of $(db_label "$best") when it is back"
  done
  publish_primary "$best"
  log "programs told: the primary is $(db_label "$best") ($((($(date +%s%N) - t0) / 1000000)) ms after the start)"
  # its my.cnf after the programs are told: until then a restart brings it back read-only, never
  # a second writable server
  write_db_cnf "$best" primary
  if ((alive)); then
    killed=$(sql "$old" -e "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'vs'" | tr '\n' ' ')
    for s in $killed; do sql "$old" -e "KILL CONNECTION $s" 2>/dev/null || true; done
    log "closed the old primary's $(wc -w <<<"$killed") vs sessions: their programs reconnect to $(db_label "$best")"
    apply_semisync "$old" replica
    if rejoin "$old" "$best"; then FO_READS=$old; else fenced_msg "$old" "$best"; fi
  fi
  FO_BEST=$best FO_ALIVE=$alive
}

# rebuild_replica ID PRIMARY: server ID from nothing (a new datadir), replicating server PRIMARY's
# whole binlog (kept 7 days).
rebuild_replica() {
  local id=$1 cur=$2 pid
  if pid=$(db_pid "$id"); then stop_pid "$pid" "MariaDB $(db_label "$id")" 120; fi
  write_db_cnf "$id" replica
  mariadb_install "$(db_label "$id")" "$(db_dir "$id")"
  start_db "$id"
  sql "$id" <<EOF
RESET MASTER;
$(change_master_sql "$cur")
SET GLOBAL gtid_slave_pos='';
START SLAVE;
EOF
  ensure_replication "$(db_sock "$id")"
  wait_replica_caught_up "$(db_sock "$cur")" "$(db_sock "$id")"
}
