#!/usr/bin/env bash
# Delivery benchmark: publish -> WebSocket latency (unloaded, and a curve under 10, 25,
# 50, 75 and 90% of the maximum single-event publish rate measured in the same run
# with wrk), deliveries+acks per second with 4 consumers in one group, and broker
# memory per idle WebSocket connection.
# Targets (docs/benchmarks.md): unloaded p50 <= 0.5 ms, p99 <= 2 ms; p99 <= 5 ms at
# every point of the curve; >= 100k delivered-and-acked events/s; <= 10 KB per idle
# connection. The consume rounds alternate with a reference consumer reading Redis
# directly, for a same-run ratio.
#
#   bench/deliver/run.sh [BUILD_DIR=build/release]
#       EVENTS=200000 IDLE=10000 CURVE="10 25 50 75 90" SECONDS_PER_POINT=4 JOBS=2
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${1:-build/release}
events=${EVENTS:-200000}
idle=${IDLE:-10000}
curve=${CURVE:-10 25 50 75 90}
per_point=${SECONDS_PER_POINT:-4}
peers=../shared/bench-peers
for tool in wrk redis-server; do command -v $tool >/dev/null || { echo "bench: install $tool (apt)" >&2; exit 2; }; done
cmake --build "$build" --parallel "${JOBS:-2}" --target sluice sluice_bench_deliver >/dev/null
ulimit -n "$(ulimit -Hn)"  # 10k sockets on each side

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
. bench/lib.sh
redis_port=$(port); sluice_port=$(port)

start_redis "$redis_port" --maxclients 50000

write_reference_bodies
cat > "$work/sluice.yaml" <<YAML
listen: {address: 127.0.0.1, port: $sluice_port}
redis: {url: "redis://127.0.0.1:$redis_port"}
http: {max_connections: 20000, max_connections_per_client: 0}
schemas: {dir: $work/schemas}
log: {level: warn}
types: {user.created: {compatibility: none}}
YAML
"$build/sluice" --config "$work/sluice.yaml" > "$work/sluice.log" 2>&1 &
sluice_pid=$!
pids+=($sluice_pid)
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$sluice_port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$sluice_port/readyz" >/dev/null || { echo "bench: sluice not ready"; cat "$work/sluice.log"; exit 1; }
bench="$build/bench/sluice_bench_deliver"

# Memory first, on a fresh broker: later phases leave freed heap that new sockets
# would reuse, hiding their cost.
echo "== memory per idle WebSocket connection ($idle connections, one group subscription each)"
"$bench" idle --port "$sluice_port" --connections "$idle" --pid "$sluice_pid"

echo "== publish -> WebSocket latency, unloaded (1 publisher, 500 events/s)"
"$bench" latency --port "$sluice_port" --events 2000 --rate 500 --connections 1

max=$(BODY_FILE="$work/single.json" wrk -t1 -c50 -d5s -s "$peers/post.lua" "http://127.0.0.1:$sluice_port/v1/events" |
  sed -nE 's/Requests\/sec:\s+([0-9.]+)/\1/p')
echo "== maximum single-event publish rate (wrk -c50, 5 s): $max/s"
echo "== publish -> WebSocket latency at a share of it (16 publishers, ${per_point} s a point, one group subscriber acking what it read)"
printf '   %5s %8s %8s %8s %8s %8s  %s\n' share rate/s sent/s p50_ms p99_ms max_ms received/failed
status=0
for pct in $curve; do
  rate=$(python3 -c "print(int($max * $pct / 100))")
  line=$("$bench" latency --port "$sluice_port" --events "$((rate * per_point))" --rate "$rate" --connections 16) || status=1
  echo "$line" | awk -v pct="$pct" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "   %4s%% %8s %8s %8s %8s %8s  %s/%s\n", pct, v["rate"], v["sent_rate"], v["p50_ms"], v["p99_ms"], v["max_ms"], v["received"], v["failed"]
    }'
done
# sent/s below rate/s: the publishers' answers came slower than their schedule (the
# broker, Redis and this client share the machine), so the point ran at sent/s.

echo "== delivered and acked per second: 4 consumers, one group, window 1000, $events events"
echo "   next to the reference: one client on Redis itself (XREADGROUP COUNT 100, XACK pipelined)"
"$bench" consume --port "$sluice_port" --events "$events" --consumers 4 --window 1000 >/dev/null  # warm-up
for round in 1 2 3; do
  "$bench" consume --port "$sluice_port" --events "$events" --consumers 4 --window 1000
  "$bench" reference --redis-port "$redis_port" --events "$events"
done

grep -v '"level":"info"' "$work/sluice.log" | tail -5 || true
exit $status
