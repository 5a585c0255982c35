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

LOADERS=2
RESUME_BOUND_S=30
CF_WORK=cluster-redis-failover CF_NETNS_PREFIX=vsr CF_SUBNET=10.237 CF_EVENT_TAG=rf
# shellcheck source=tests/integration/cluster_fixture.sh
. "$(dirname "${BASH_SOURCE[0]}")/cluster_fixture.sh"
cf_failure_logs() {
  tail -n 15 "$VS_CLUSTER_HOME"/hosts/*/logs/vsd.log "$work"/*.err >&2 2>/dev/null || true
  tail -n 25 "$VS_CLUSTER_HOME"/hosts/*/sentinel/sentinel.log "$VS_CLUSTER_HOME"/hosts/*/redis/redis.log >&2 2>/dev/null || true
}
cf_setup

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

cf_plays_setup "redis failover"
cf_start_loaders

# ------------------------------------------------------------ the fault; nobody acts
t_kill=$(now_ns)
kill -9 "$(cat "$(host_dir 0)/redis/redis.pid")"
cf_wait_resumed "$t_kill" "the kill"
sleep 2
cf_stop_loaders
last=$(cf_resumed_ns "$t_kill")
echo "Redis primary killed: Plays acknowledged again $(secs $((last - t_kill))) s after the kill"
for k in 0 1 2; do
  [[ $(sentinel_says "$k") == "$VS_CLUSTER_SUBNET.2 7409" ]] || fail "sentinel $k names $(sentinel_says "$k"), not host 1's Redis"
done
[[ $(redis_role 1) == master ]] || fail "host 1's Redis is $(redis_role 1) after the failover"

cf_collect_acks
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
