#!/usr/bin/env bash
# cluster_redis_failover.sh — losing the Redis primary of a three-host tools/cluster run with
# Sentinel (VS_REDIS_SENTINEL=on: Redis on hosts 0 and 1, a sentinel on each host; docs/deploy.md
# "Redis Sentinel across hosts"). Under Play load from host 0 through a client holding the three
# hosts' vsd URLs, host 0's Redis is killed (-9); nobody acts:
#   - the sentinels promote host 1's Redis, and every loader's Plays are acknowledged again (the
#     interruption is printed; bound 30 s); every acknowledged Play is one row of the play log;
#   - `tools/cluster up` brings host 0's Redis back as a replica of host 1's, status all up, and
#     Plays go on.
# Root only (network namespaces). Everything it starts is stopped on exit, pass or fail.
set -euo pipefail

: "${VS_TEST_HOME:?run through ctest}" "${VS_BUILD_DIR:?}" "${VS_SOURCE_DIR:?}"
((EUID == 0)) || { echo "FAIL: root only (network namespaces)" >&2; exit 1; }
TOOLS=$VS_SOURCE_DIR/tools
BIN=$VS_BUILD_DIR
LOADERS=2
RESUME_BOUND_S=30

mkdir -p "$VS_TEST_HOME"
work=$(mktemp -d "$VS_TEST_HOME/cluster-redis-failover.XXXXXX")
export VS_CLUSTER_HOME=$work/cluster VS_CLUSTER_PREFIX=vsr$$ VS_CLUSTER_SUBNET=10.237.$(($$ % 200)) \
  VS_CLUSTER_BIN=$BIN VS_CLUSTER_NNG_TLS=1
loader_pids=()
cleanup() {
  local rc=$?
  touch "$work/stop"
  for p in "${loader_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if ((rc != 0)); then
    echo "--- failed; the cluster's logs:" >&2
    tail -n 15 "$VS_CLUSTER_HOME"/hosts/*/logs/vsd.log "$work"/*.err >&2 2>/dev/null || true
    tail -n 25 "$VS_CLUSTER_HOME"/hosts/*/sentinel/sentinel.log "$VS_CLUSTER_HOME"/hosts/*/redis/redis.log >&2 2>/dev/null || true
  fi
  "$TOOLS/cluster" down --purge >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cl() { "$TOOLS/cluster" "$@"; }
as() { local who=$1; shift; XDG_CONFIG_HOME=$work/users/$who cl exec 0 "$@"; }
host_dir() { echo "$VS_CLUSTER_HOME/hosts/$VS_CLUSTER_PREFIX$1"; }
now_ns() { date +%s%N; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }
viewer_vsctl() {
  XDG_CONFIG_HOME=$work/users/viewer ip netns exec "${VS_CLUSTER_PREFIX}0" \
    env VS_ENV_FILE="$(host_dir 0)/env" "$BIN/client/vsctl" "$@"
}
# host K's Redis: ROLE's first word
redis_role() {
  REDISCLI_AUTH=$(cat "$VS_CLUSTER_HOME/redis.password") ip netns exec "$VS_CLUSTER_PREFIX$1" \
    redis-cli -h 127.0.0.1 -p 7409 --raw ROLE 2>/dev/null | head -n 1
}
# what host K's sentinel names as the primary (ADDRESS PORT)
sentinel_says() {
  ip netns exec "$VS_CLUSTER_PREFIX$1" redis-cli -h 127.0.0.1 -p 7404 --raw \
    SENTINEL get-master-addr-by-name vs 2>/dev/null | paste -sd ' '
}

t0=$SECONDS
VS_REDIS_SENTINEL=on cl up --hosts 3 --set VS_BATCH_SCHEDULE=off >"$work/up.log" 2>&1 ||
  fail "cluster up: $(tail -n 5 "$work/up.log")"
echo "cluster up with Sentinel in $((SECONDS - t0)) s"
cl status >"$work/status0" || fail "status after up: $(cat "$work/status0")"
(($(grep -c ' redis-sentinel .* up ' "$work/status0") == 3)) || fail "not three sentinels up: $(cat "$work/status0")"
[[ $(redis_role 0) == master && $(redis_role 1) == slave ]] ||
  fail "host 0's Redis is $(redis_role 0), host 1's $(redis_role 1): not primary and replica"
grep -q "^export VS_REDIS_SENTINELS=$VS_CLUSTER_SUBNET.1:7404,$VS_CLUSTER_SUBNET.2:7404,$VS_CLUSTER_SUBNET.3:7404\$" \
  "$(host_dir 2)/env" || fail "host 2's env does not list the three sentinels"
for k in 0 1 2; do
  [[ $(sentinel_says "$k") == "$VS_CLUSTER_SUBNET.1 7409" ]] || fail "sentinel $k names $(sentinel_says "$k")"
done

for who in creator viewer; do
  printf 'cluster-test-password\n' | as "$who" vsctl user signup --email "$who@test.invalid" --name "$who" --password-stdin >/dev/null
  printf 'cluster-test-password\n' | as "$who" vsctl user login --email "$who@test.invalid" --password-stdin >/dev/null
done
urls=
for k in 0 1 2; do urls+=${urls:+,}$(sed -n 's#^export VS_URL=##p' "$(host_dir "$k")/env"); done
videos=()
for ((i = 0; i < LOADERS; i++)); do
  v=$(as creator vsctl --json video create --title "redis failover $i" --duration 600 | grep -o '"id": *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
  [[ -n $v ]] || fail "no video created"
  videos+=("$v")
done

# loader I: Plays one after the other, each retried with the same event id until acknowledged
loader() {
  local i=$1 n=0 id s rc
  while [[ ! -f $work/stop ]]; do
    n=$((n + 1)) id=rf-$$-$i-$n
    while :; do
      s=$(now_ns) rc=0
      VS_URL=$urls viewer_vsctl --timeout 3000 play start "${videos[$i]}" --event-id "$id" \
        >/dev/null 2>>"$work/loader-$i.err" || rc=$?
      if ((rc == 0)); then
        echo "$id ok $s $(now_ns)" >>"$work/loader-$i.log"
        break
      fi
      echo "$id fail $s $(now_ns)" >>"$work/loader-$i.log"
      [[ ! -f $work/stop ]] || return 0
      sleep 0.1
    done
  done
}
acks() {
  local n
  n=$(grep -c ' ok ' "$work/loader-$1.log" 2>/dev/null) || true
  echo "${n:-0}"
}
for ((i = 0; i < LOADERS; i++)); do
  loader "$i" &
  loader_pids+=($!)
done
for _ in $(seq 1 600); do # each loader has some Plays acknowledged (bounded: 60 s)
  ready=1
  for ((i = 0; i < LOADERS; i++)); do (($(acks "$i") >= 5)) || ready=0; done
  ((ready)) && break
  sleep 0.1
done
((ready)) || fail "the loaders did not get 5 Plays each acknowledged within 60 s: $(tail -n 3 "$work"/loader-*.err)"

# ------------------------------------------------------------ the fault; nobody acts
t_kill=$(now_ns)
kill -9 "$(cat "$(host_dir 0)/redis/redis.pid")"
for _ in $(seq 1 $((RESUME_BOUND_S * 10))); do
  resumed=1
  for ((i = 0; i < LOADERS; i++)); do
    awk -v t="$t_kill" '$2 == "ok" && $3 >= t { f = 1 } END { exit !f }' "$work/loader-$i.log" || resumed=0
  done
  ((resumed)) && break
  sleep 0.1
done
((resumed)) || fail "Plays were not acknowledged again within ${RESUME_BOUND_S} s of the kill: $(tail -n 3 "$work"/loader-*.err)"
sleep 2
touch "$work/stop"
for p in "${loader_pids[@]}"; do wait "$p" || true; done
loader_pids=()
last=0
for ((i = 0; i < LOADERS; i++)); do
  r=$(awk -v t="$t_kill" '$2 == "ok" && $3 >= t { print $4; exit }' "$work/loader-$i.log")
  ((r > last)) && last=$r
done
echo "Redis primary killed: Plays acknowledged again $(secs $((last - t_kill))) s after the kill"
for k in 0 1 2; do
  [[ $(sentinel_says "$k") == "$VS_CLUSTER_SUBNET.2 7409" ]] || fail "sentinel $k names $(sentinel_says "$k"), not host 1's Redis"
done
[[ $(redis_role 1) == master ]] || fail "host 1's Redis is $(redis_role 1) after the failover"

acked=() failed=0
for ((i = 0; i < LOADERS; i++)); do
  mapfile -t -O "${#acked[@]}" acked < <(awk '$2 == "ok" { print "\x27" $1 "\x27" }' "$work/loader-$i.log")
  failed=$((failed + $(grep -c ' fail ' "$work/loader-$i.log" || true)))
done
db=(mariadb --no-defaults --socket="$(sed -n 's/^export VS_DB_PRIMARY_SOCKET=//p' "$(host_dir 0)/env")" -uroot -N -B vs)
rows=$("${db[@]}" -e "SELECT COUNT(*) FROM play_log WHERE event_id IN ($(IFS=,; echo "${acked[*]}"))")
echo "Plays: ${#acked[@]} acknowledged ($failed attempts failed and were retried), $rows rows"
((rows == ${#acked[@]})) || fail "${#acked[@]} acknowledged Plays but $rows rows in the play log"

# ------------------------------------------------------------ the old Redis comes back
cl up >"$work/up2.log" 2>&1 || fail "up after the Redis failover: $(tail -n 5 "$work/up2.log")"
for _ in $(seq 1 100); do [[ $(redis_role 0) == slave ]] && break; sleep 0.1; done
[[ $(redis_role 0) == slave ]] || fail "host 0's Redis came back as $(redis_role 0), not a replica"
cl status >"$work/status2" || fail "status after host 0's Redis came back: $(cat "$work/status2")"
grep -q "^export VS_REDIS=redis://$VS_CLUSTER_SUBNET.2:7409\$" "$(host_dir 1)/env" || fail "the env files do not name the new Redis primary"
VS_URL=$urls viewer_vsctl --timeout 5000 play start "${videos[0]}" --event-id "rf-$$-after" >/dev/null ||
  fail "a Play after host 0's Redis came back failed"
echo "PASS: the sentinels promoted host 1's Redis, Plays resumed with none lost, host 0's Redis came back as its replica"
