#!/usr/bin/env bash
# XADD throughput: Sluice's Redis client against redis-benchmark (-c 50 -P 64), same
# Redis, same machine, same run, alternating, five rounds; prints each rate, the
# medians and their ratio. Target: sluice/redis-benchmark >= 0.8.
#
#   bench/redis/run.sh [BUILD_DIR=build/release] [EVENT=../shared/bench-peers/event.json]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
event=${EVENT:-../shared/bench-peers/event.json}
count=${COUNT:-300000}
[ -f "$event" ] || { echo "bench: event file $event not found; set EVENT=path" >&2; exit 2; }
cmake --build "$build" --target sluice_bench_redis >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no \
  --logfile "$dir/redis.log" &
redis=$!
trap 'kill $redis 2>/dev/null; wait $redis 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

ours=(); theirs=(); ratios=()
# Round 0 warms Redis, the allocator and the CPU up for both and is not counted.
for round in 0 1 2 3 4 5; do
  redis-cli -p "$port" del bench:s bench:sluice >/dev/null
  line=$(redis-benchmark -p "$port" -n "$count" -c 50 -P 64 -q XADD bench:s '*' event "$(cat "$event")" | tr '\r' '\n' | grep -E 'requests per second' | tail -1)
  rate=$(echo "$line" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/')
  [ "$round" -gt 0 ] && theirs+=("$rate")
  echo "round $round redis-benchmark -c 50 -P 64 xadd: ${rate}/s (XLEN $(redis-cli -p "$port" xlen bench:s))"
  out=$("$build/bench/sluice_bench_redis" "$port" "$event" "$count" | grep '^sluice-client')
  mine=$(echo "$out" | sed -E 's/^sluice-client xadd: ([0-9.]+)\/s.*/\1/')
  echo "round $round $out (XLEN $(redis-cli -p "$port" xlen bench:sluice))"
  if [ "$round" -gt 0 ]; then
    ours+=("$mine")
    ratios+=("$(python3 -c "print(f'{$mine/$rate:.3f}')")")
  fi
done
median() { printf "%s\n" "$@" | sort -g | sed -n 3p; }
m_ours=$(median "${ours[@]}"); m_theirs=$(median "${theirs[@]}")
m_ratio=$(median "${ratios[@]}")
echo "per-round ratios: ${ratios[*]}"
echo "median: sluice ${m_ours}/s, redis-benchmark ${m_theirs}/s; median per-round ratio ${m_ratio} (target >= 0.80)"
