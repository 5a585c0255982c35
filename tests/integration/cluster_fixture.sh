# shellcheck shell=bash disable=SC2034  # TOOLS, BIN, urls, videos, acked, failed are the caller's
# cluster_fixture.sh — shared set-up of the cluster failover tests (cluster_failover.sh,
# cluster_redis_failover.sh): a tools/cluster of their own (network namespaces, nng over TLS), a
# creator and a viewer signed up and logged in on host 0, one video per loader, and LOADERS
# background loaders of the viewer's Plays through a client holding the three hosts' vsd URLs,
# under which the test kills a server. What is killed and what is checked afterwards is the test's;
# the fixture starts the loaders, waits for their Plays to be acknowledged again after the fault,
# and collects the acknowledged event ids.
#
# Sourced (not run; tests/CMakeLists.txt registers no *_fixture.sh as a test) by a test that has
# set -euo pipefail, with
#   . "$(dirname "${BASH_SOURCE[0]}")/cluster_fixture.sh"
# Before cf_setup the test sets
#   CF_WORK          the work directory's name under VS_TEST_HOME (mktemp appends .XXXXXX)
#   CF_NETNS_PREFIX  the cluster's namespace prefix; the shell's pid is appended (10 chars at most)
#   CF_SUBNET        the first two octets of the cluster's subnet (the third: the pid modulo 200)
#   CF_EVENT_TAG     the loaders' event ids are <tag>-<pid>-<loader>-<n>
#   LOADERS          how many loaders (and videos)
#   RESUME_BOUND_S   how long after the fault every loader must have a Play acknowledged again
# and defines cf_failure_logs, which prints the logs worth reading when the test fails.
#
# Provided:
#   cf_setup             checks ctest's environment (VS_TEST_HOME, VS_BUILD_DIR, VS_SOURCE_DIR) and
#                        root; sets TOOLS, BIN and work (the work directory); exports the
#                        VS_CLUSTER_* settings; traps EXIT: loaders stopped, cf_failure_logs on
#                        failure, the cluster purged, the work directory removed, the status kept
#   fail MSG...          prints FAIL: MSG and exits 1
#   cl ARGS...           tools/cluster
#   host_dir K           host K's directory
#   as WHO CMD...        CMD on host 0 as user WHO (a config directory of its own)
#   viewer_vsctl ARGS... the viewer's vsctl on host 0 without tools/cluster's start-up (the loaders')
#   now_ns, secs NS      the time in ns; NS ns as seconds with two decimals
#   cf_plays_setup TITLE creator and viewer signed up and logged in; sets urls (the three vsds) and
#                        videos (one per loader, the creator's, titled "TITLE I")
#   cf_start_loaders     starts the loaders; waits for 5 acknowledged Plays each (bounded: 60 s)
#   cf_wait_resumed T WHAT  waits until every loader has a Play started at or after T (ns)
#                        acknowledged; fails "... within RESUME_BOUND_S s of WHAT" otherwise
#   cf_stop_loaders      stops the loaders (each ends its Play in flight) and waits for them
#   cf_resumed_ns T      prints when the last loader's first Play started at or after T was
#                        acknowledged (ns)
#   cf_collect_acks      sets acked (every acknowledged event id, quoted for SQL) and failed (how
#                        many attempts failed and were retried)
# Loader I logs one line per attempt to $work/loader-I.log: event id, ok|fail, start and end (ns);
# its client's errors go to $work/loader-I.err.

cf_setup() {
  : "${VS_TEST_HOME:?run through ctest}" "${VS_BUILD_DIR:?}" "${VS_SOURCE_DIR:?}"
  : "${CF_WORK:?}" "${CF_NETNS_PREFIX:?}" "${CF_SUBNET:?}" "${CF_EVENT_TAG:?}" "${LOADERS:?}" "${RESUME_BOUND_S:?}"
  ((EUID == 0)) || { echo "FAIL: root only (network namespaces)" >&2; exit 1; }
  TOOLS=$VS_SOURCE_DIR/tools
  BIN=$VS_BUILD_DIR
  mkdir -p "$VS_TEST_HOME"
  work=$(mktemp -d "$VS_TEST_HOME/$CF_WORK.XXXXXX")
  export VS_CLUSTER_HOME=$work/cluster VS_CLUSTER_PREFIX=$CF_NETNS_PREFIX$$ \
    VS_CLUSTER_SUBNET=$CF_SUBNET.$(($$ % 200)) VS_CLUSTER_BIN=$BIN VS_CLUSTER_NNG_TLS=1
  loader_pids=()
  trap cf_cleanup EXIT
}

# shellcheck disable=SC2317  # run by the EXIT trap
cf_cleanup() {
  local rc=$?
  touch "$work/stop"
  for p in "${loader_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if ((rc != 0)); then
    echo "--- failed; the cluster's logs:" >&2
    cf_failure_logs
  fi
  "$TOOLS/cluster" down --purge >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
cl() { "$TOOLS/cluster" "$@"; }
host_dir() { echo "$VS_CLUSTER_HOME/hosts/$VS_CLUSTER_PREFIX$1"; }
as() { local who=$1; shift; XDG_CONFIG_HOME=$work/users/$who cl exec 0 "$@"; }
viewer_vsctl() {
  XDG_CONFIG_HOME=$work/users/viewer ip netns exec "${VS_CLUSTER_PREFIX}0" \
    env VS_ENV_FILE="$(host_dir 0)/env" "$BIN/client/vsctl" "$@"
}
now_ns() { date +%s%N; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }

cf_plays_setup() {
  local title=$1 who k i v
  for who in creator viewer; do
    printf 'cluster-test-password\n' | as "$who" vsctl user signup --email "$who@test.invalid" --name "$who" --password-stdin >/dev/null
    printf 'cluster-test-password\n' | as "$who" vsctl user login --email "$who@test.invalid" --password-stdin >/dev/null
  done
  urls=
  for k in 0 1 2; do urls+=${urls:+,}$(sed -n 's#^export VS_URL=##p' "$(host_dir "$k")/env"); done
  videos=()
  for ((i = 0; i < LOADERS; i++)); do
    v=$(as creator vsctl --json video create --title "$title $i" --duration 600 | grep -o '"id": *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
    [[ -n $v ]] || fail "no video created"
    videos+=("$v")
  done
}

# loader I: Plays one after the other, each retried with the same event id until acknowledged (as
# a client should), until $work/stop exists.
loader() {
  local i=$1 n=0 id s rc
  while [[ ! -f $work/stop ]]; do
    n=$((n + 1)) id=$CF_EVENT_TAG-$$-$i-$n
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
# how many Plays loader I has had acknowledged
acks() {
  local n
  n=$(grep -c ' ok ' "$work/loader-$1.log" 2>/dev/null) || true
  echo "${n:-0}"
}

cf_start_loaders() {
  local i ready
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
}

cf_wait_resumed() {
  local t=$1 what=$2 i resumed
  for _ in $(seq 1 $((RESUME_BOUND_S * 10))); do
    resumed=1
    for ((i = 0; i < LOADERS; i++)); do
      awk -v t="$t" '$2 == "ok" && $3 >= t { f = 1 } END { exit !f }' "$work/loader-$i.log" || resumed=0
    done
    ((resumed)) && break
    sleep 0.1
  done
  ((resumed)) || fail "Plays were not acknowledged again within ${RESUME_BOUND_S} s of $what: $(tail -n 3 "$work"/loader-*.err)"
}

cf_stop_loaders() {
  local p
  touch "$work/stop"
  for p in "${loader_pids[@]}"; do wait "$p" || true; done
  loader_pids=()
}

cf_resumed_ns() {
  local t=$1 i r last=0
  for ((i = 0; i < LOADERS; i++)); do
    r=$(awk -v t="$t" '$2 == "ok" && $3 >= t { print $4; exit }' "$work/loader-$i.log")
    ((r > last)) && last=$r
  done
  echo "$last"
}

cf_collect_acks() {
  local i
  acked=() failed=0
  for ((i = 0; i < LOADERS; i++)); do
    mapfile -t -O "${#acked[@]}" acked < <(awk '$2 == "ok" { print "\x27" $1 "\x27" }' "$work/loader-$i.log")
    failed=$((failed + $(grep -c ' fail ' "$work/loader-$i.log" || true)))
  done
}
