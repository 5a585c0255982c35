#!/usr/bin/env bash
# nngcat_health.sh — an independent client: calls StreamingService.Health on a real vsd using only
# proto/ (protoc --encode/--decode) and nngcat. No project code is on the client side, which is
# the proof that docs/protocol.md + proto/ suffice to write a client in any language.
set -euo pipefail

: "${VS_TEST_HOME:?run through ctest}" "${VS_BUILD_DIR:?}" "${VS_SOURCE_DIR:?}"
set -a
# shellcheck disable=SC1091
. "$VS_TEST_HOME/env"
set +a
work=$(mktemp -d)
url="ipc://$work/vsd.ipc"
"$VS_BUILD_DIR/server/vsd" --url "$url" --threads 2 2>"$work/vsd.log" &
vsd=$!
trap 'kill $vsd 2>/dev/null; wait $vsd 2>/dev/null; rm -rf "$work"' EXIT

proto=(protoc --proto_path="$VS_SOURCE_DIR/proto" "$VS_SOURCE_DIR/proto/vs/v1/envelope.proto")
# 1. the method's request message, then the envelope carrying it (bytes as \xNN escapes)
printf 'echo: "independent-client"\n' | "${proto[@]}" --encode=vs.v1.HealthRequest >"$work/payload.bin"
payload=$(od -An -v -tx1 "$work/payload.bin" | tr -d ' \n' | sed 's/../\\x&/g')
deadline=$(($(date +%s%3N) + 5000))
printf 'method: "/vs.v1.StreamingService/Health"\nrequest_id: 99\ndeadline_unix_ms: %s\npayload: "%s"\n' \
  "$deadline" "$payload" | "${proto[@]}" --encode=vs.v1.RequestEnvelope >"$work/request.bin"

# 2. one REQ/REP exchange (retry while vsd starts)
for _ in $(seq 1 50); do
  if nngcat --req --dial "$url" --raw --recv-timeout 2 --file "$work/request.bin" >"$work/reply.bin" 2>/dev/null &&
    [ -s "$work/reply.bin" ]; then
    break
  fi
  sleep 0.1
done
[ -s "$work/reply.bin" ] || { echo "FAIL: no reply from vsd"; cat "$work/vsd.log"; exit 1; }

# 3. decode the envelope: code absent (= OK) and request id echoed
"${proto[@]}" --decode=vs.v1.ResponseEnvelope <"$work/reply.bin" >"$work/reply.txt"
cat "$work/reply.txt"
grep -q '^request_id: 99$' "$work/reply.txt" || { echo "FAIL: request_id not echoed"; exit 1; }
if grep -q '^code:' "$work/reply.txt"; then echo "FAIL: non-OK status"; exit 1; fi

# 4. decode the payload as a HealthResponse. A bytes field and an embedded message share one wire
# format, so a view of ResponseEnvelope whose field 4 is typed HealthResponse decodes both at once.
cat >"$work/health_reply.proto" <<'PROTO'
syntax = "proto3";
import "vs/v1/envelope.proto";
message HealthReply {
  uint64 request_id = 1;
  int32 code = 2;
  string message = 3;
  vs.v1.HealthResponse payload = 4;
}
PROTO
protoc --proto_path="$VS_SOURCE_DIR/proto" --proto_path="$work" "$work/health_reply.proto" \
  --decode=HealthReply <"$work/reply.bin" >"$work/health.txt"
cat "$work/health.txt"
grep -q '^  echo: "independent-client"$' "$work/health.txt" || { echo "FAIL: echo"; exit 1; }
grep -q '^  service: "vsd"$' "$work/health.txt" || { echo "FAIL: service"; exit 1; }
[ "$(grep -c 'up: true' "$work/health.txt")" -eq 3 ] || { echo "FAIL: not all components up"; exit 1; }
echo "PASS: Health answered an independent protoc+nngcat client"
