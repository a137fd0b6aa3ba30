#!/usr/bin/env bash
# Publish throughput and latency: Sluice's POST /v1/events next to Nchan (nginx's
# pub/sub module, HTTP publish, memory storage, one worker) and redis-benchmark XADD
# (-c 50 -P 64), all on this machine in the same run. wrk -t1 -c50 -d$DURATION.
#   single: the reference event's data as a simple envelope (Sluice assigns ids, so
#           every request stores a new entry; the contract is event.schema.json's
#           `data`, formats asserted)
#   batch:  100 such events per application/cloudevents-batch+json request
# Targets (docs/benchmarks.md): single >= 1.2x Nchan, p99 <= 5 ms; batch events/s
# >= 0.5x redis-benchmark -P 64 (XADD of event.json as one field). A second
# redis-benchmark column XADDs entries shaped like Sluice's own (the same fields and
# values as the last stored entry): what Redis alone accepts for the entries Sluice
# writes, so the ratio to it is Sluice's own overhead. Then CPU per publish: each
# process's user+system time over the middle seconds of a run, per request (Sluice and
# Redis for a durable publish, Nchan's worker for one kept in memory), and per event of
# a 100-event batch. Then authentication's cost (an API key, an RS256 JWT) and TLS's
# (https:// keep-alive, and a full handshake per new connection), each next to plain;
# then publish.min_replicas: 1 against a replicated Redis, next to 0.
#
#   bench/publish/run.sh [BUILD_DIR=build/release]      DURATION=5s ROUNDS=3
#   ONLY=publish|auth|tls|replicas: that section alone (the others' servers still start)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${1:-build/release}
duration=${DURATION:-5s}
rounds=${ROUNDS:-3}
peers=../shared/bench-peers
[ -f "$peers/event.json" ] && [ -f "$peers/post.lua" ] || { echo "bench: $peers missing" >&2; exit 2; }
for tool in wrk nginx redis-benchmark; do command -v $tool >/dev/null || { echo "bench: install $tool (apt)" >&2; exit 2; }; done
[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || { echo "bench: apt install libnginx-mod-nchan" >&2; exit 2; }
cmake --build "$build" --target sluice >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
. bench/lib.sh
want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
redis_port=$(port); sluice_port=$(port); nchan_port=$(port); tls_port=$(port)

start_redis "$redis_port"

# The broker's TLS listener (the TLS rows at the end): an ECDSA P-256 certificate, the
# common choice, from a CA made here.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
  -out "$work/ca.crt" -days 1 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" \
  -out "$work/tls.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$work/tls.ext"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -out "$work/tls.crt" -days 1 -extfile "$work/tls.ext" 2>/dev/null

write_reference_bodies
cat > "$work/sluice.yaml" <<YAML
listen: {address: 127.0.0.1, port: $sluice_port}
redis: {url: "redis://127.0.0.1:$redis_port"}
schemas: {dir: $work/schemas}
log: {level: warn}
types: {user.created: {compatibility: none}}
tls_listen: {port: $tls_port, cert_file: $work/tls.crt, key_file: $work/tls.key}
YAML
"$build/sluice" --config "$work/sluice.yaml" > "$work/sluice.log" 2>&1 &
sluice_pid=$!
pids+=($sluice_pid)

mkdir -p "$work/nginx/tmp"
sed -e 's/@WORKERS@/1/' -e "s/@PORT@/$nchan_port/" -e 's/@STORAGE_HTTP@//' -e 's/@STORAGE_LOC@//' \
  "$peers/nchan.conf.template" > "$work/nginx/nginx.conf"
nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" > "$work/nginx.log" 2>&1 &
nchan_master=$!
pids+=($nchan_master)

# The load generator's ceiling: nginx (one worker) answering every POST with a fixed
# 201 and doing nothing else. No server measured with this wrk on this machine can
# go faster than this one.
null_port=$(port)
mkdir -p "$work/null/tmp"
cat > "$work/null/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fcgi;
  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  client_body_buffer_size 16k;
  server { listen 127.0.0.1:$null_port backlog=4096; location / { return 201 '{"ok":true}'; } }
}
NGINX
nginx -p "$work/null/" -c "$work/null/nginx.conf" > "$work/null.log" 2>&1 &
pids+=($!)

# The broker on port $1 answers /readyz 200 within 10 s, else the bench stops with its
# log ($2).
wait_ready() {
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "bench: the broker on port $1 is not ready"; cat "$2"; exit 1
}
wait_ready "$sluice_port" "$work/sluice.log"

# "rate p50_ms p99_ms non2xx" from wrk's output.
wrk_run() {  # url body_file lua
  BODY_FILE="$2" wrk -t1 -c50 -d"$duration" --latency -s "$3" "$1" 2>&1 | python3 -c '
import re, sys
t = sys.stdin.read()
def ms(label):
    m = re.search(r"\s" + label + r"\s+([\d.]+)(us|ms|s)", t)
    if not m: return "nan"
    v, u = float(m.group(1)), m.group(2)
    return str(v / 1000 if u == "us" else v * 1000 if u == "s" else v)
rate = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
print(rate, ms("50%"), ms("99%"), bad.group(1) if bad else 0)'
}
xadd_rate() {  # [field value ...], else event.json as one field
  redis-cli -p "$redis_port" del bench:s >/dev/null
  if [ $# -eq 0 ]; then set -- event "$(cat "$peers/event.json")"; fi
  redis-benchmark -p "$redis_port" -n 300000 -c 50 -P 64 -q XADD bench:s '*' "$@" |
    tr '\r' '\n' | sed -nE 's/.*: ([0-9.]+) requests per second.*/\1/p' | tail -1
}

# One publish first, so there is an entry to copy the shape of: its fields and values,
# one per line (the data is minified JSON, without newlines).
curl -fs -H 'Content-Type: application/json' --data-binary @"$work/single.json" \
  "http://127.0.0.1:$sluice_port/v1/events" >/dev/null
mapfile -t sluice_fields < <(redis-cli -p "$redis_port" --raw xrevrange 'sluice:{user.created}:events' + - count 1 | tail -n +2)

# Every measurement starts from an empty stream, as redis-benchmark's does: otherwise
# Sluice's runs pay for Redis growing by millions of entries (fresh memory, page
# faults) while the reference reuses the memory of its deleted stream.
empty_stream() { redis-cli -p "$redis_port" del 'sluice:{user.created}:events' >/dev/null; }
# wrk_run of single-event or 100-event-batch publishes to the broker at base URL $1,
# from an empty stream.
single() { empty_stream; wrk_run "$1/v1/events" "$work/single.json" "$root/$peers/post.lua"; }
batch() { empty_stream; wrk_run "$1/v1/events" "$work/batch.json" "$root/bench/publish/batch.lua"; }

if want publish; then
echo "round | sluice single/s p50 p99 (non-2xx) | nchan/s p50 p99 | null nginx/s | sluice batch events/s | redis-benchmark -P 64 /s: event.json, Sluice's entry"
for round in $(seq 0 "$rounds"); do
  read -r s_rate s_p50 s_p99 s_bad <<<"$(single "http://127.0.0.1:$sluice_port")"
  read -r n_rate n_p50 n_p99 n_bad <<<"$(BODY_FILE="$root/$peers/event.json" wrk_run "http://127.0.0.1:$nchan_port/pub/user.created" "$root/$peers/event.json" "$root/$peers/post.lua")"
  read -r z_rate z_p50 z_p99 z_bad <<<"$(wrk_run "http://127.0.0.1:$null_port/pub" "$root/$peers/event.json" "$root/$peers/post.lua")"
  read -r b_rate b_p50 b_p99 b_bad <<<"$(batch "http://127.0.0.1:$sluice_port")"
  x_rate=$(xadd_rate)
  xs_rate=$(xadd_rate "${sluice_fields[@]}")
  b_events=$(python3 -c "print(round($b_rate*100))")
  echo "$round | $s_rate $s_p50 $s_p99 ($s_bad) | $n_rate $n_p50 $n_p99 | $z_rate | $b_events (p99 ${b_p99} ms, non-2xx $b_bad) | $x_rate, $xs_rate"
  if [ "$round" -gt 0 ]; then
    echo "   ratios: single/nchan $(python3 -c "print(f'{$s_rate/$n_rate:.2f}')"), null nginx/nchan $(python3 -c "print(f'{$z_rate/$n_rate:.2f}')"), batch/redis-benchmark $(python3 -c "print(f'{$b_events/$x_rate:.2f}')"), batch/redis-benchmark with Sluice's entry $(python3 -c "print(f'{$b_events/$xs_rate:.2f}')")"
  fi
done
# CPU per publish: each process's user+system time (/proc/<pid>/stat) over the middle
# seconds of a wrk run, divided by the requests answered in them (the run's rate times
# the window). Nchan keeps events in memory (one worker); the broker's figure is for
# a durable publish, and Redis's CPU is shown beside it.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_us_per_request() {  # url body lua pid... -> "rate us_pid1 us_pid2 ..."
  local url=$1 body=$2 lua=$3; shift 3
  local out="$work/cpu.wrk"
  BODY_FILE="$body" wrk -t1 -c50 -d6s -s "$lua" "$url" > "$out" 2>&1 &
  local wrk_pid=$!
  sleep 1.5
  local before=() after=() p
  for p in "$@"; do before+=("$(ticks "$p")"); done
  sleep 3
  for p in "$@"; do after+=("$(ticks "$p")"); done
  wait "$wrk_pid"
  local rate; rate=$(sed -nE 's/Requests\/sec:\s+([0-9.]+)/\1/p' "$out")
  python3 - "$rate" "$(getconf CLK_TCK)" "${before[*]}" "${after[*]}" <<'PY'
import sys
rate, hz = float(sys.argv[1]), float(sys.argv[2])
b = [int(x) for x in sys.argv[3].split()]
a = [int(x) for x in sys.argv[4].split()]
print(f"{rate:.0f}", *(f"{(y - x) / hz / (rate * 3) * 1e6:.2f}" for x, y in zip(b, a)))
PY
}
redis_pid=$(redis-cli -p "$redis_port" info server | sed -nE 's/^process_id:([0-9]+).*/\1/p' | tr -d '\r')
nchan_worker=$(pgrep -P "$nchan_master" | head -1)
echo "CPU per publish (µs of user+system time per request, middle 3 s of wrk -c50 -d6s)"
for round in 1 2; do
  empty_stream
  read -r s_rate s_cpu s_redis <<<"$(cpu_us_per_request "http://127.0.0.1:$sluice_port/v1/events" "$work/single.json" "$root/$peers/post.lua" "$sluice_pid" "$redis_pid")"
  read -r n_rate n_cpu <<<"$(cpu_us_per_request "http://127.0.0.1:$nchan_port/pub/user.created" "$root/$peers/event.json" "$root/$peers/post.lua" "$nchan_worker")"
  empty_stream
  read -r b_rate b_cpu b_redis <<<"$(cpu_us_per_request "http://127.0.0.1:$sluice_port/v1/events" "$work/batch.json" "$root/bench/publish/batch.lua" "$sluice_pid" "$redis_pid")"
  python3 -c "print(f'   round $round: sluice {$s_cpu} µs/publish at {$s_rate}/s (redis {$s_redis}), nchan-memory {$n_cpu} µs at {$n_rate}/s, ratio sluice/nchan {$s_cpu/$n_cpu:.2f}; batch of 100: sluice {$b_cpu/100:.2f} µs/event (redis {$b_redis/100:.2f})')"
done
echo "entries stored by the last batch run: $(redis-cli -p "$redis_port" xlen 'sluice:{user.created}:events')"
fi

if want auth; then
# Authentication's cost: the same single-event publish against a second broker with
# auth on, with an API key and with an RS256 JWT (verified once, then cached), next to
# the broker without auth, alternating in each round. Target: both >= 0.95x.
auth_port=$(port)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rsa.pem" 2>/dev/null
openssl pkey -in "$work/rsa.pem" -pubout -out "$work/rsa.pub.pem"
bench_key=sk_bench_0123456789
cat > "$work/sluice-auth.yaml" <<YAML
listen: {address: 127.0.0.1, port: $auth_port}
redis: {url: "redis://127.0.0.1:$redis_port"}
schemas: {dir: $work/schemas}
log: {level: warn}
types: {user.created: {compatibility: none}}
auth:
  api_keys:
    - {name: bench, sha256: $(printf %s "$bench_key" | sha256sum | cut -d' ' -f1), permissions: [{types: ["*"], allow: [publish]}]}
  jwt: {public_keys: [$work/rsa.pub.pem], audience: [sluice]}
YAML
"$build/sluice" --config "$work/sluice-auth.yaml" > "$work/sluice-auth.log" 2>&1 &
pids+=($!)
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
jwt_input="$(printf '{"alg":"RS256","typ":"JWT"}' | b64url).$(printf '{"sub":"bench","aud":"sluice","exp":%s,"sluice":[{"types":["*"],"allow":["publish"]}]}' "$(( $(date +%s) + 3600 ))" | b64url)"
jwt="$jwt_input.$(printf %s "$jwt_input" | openssl dgst -sha256 -sign "$work/rsa.pem" -binary | b64url)"
wait_ready "$auth_port" "$work/sluice-auth.log"
echo "auth | none/s p99 | API key/s p99 (non-2xx) | RS256 JWT/s p99 (non-2xx) | key/none, jwt/none"
for round in $(seq 1 "$rounds"); do
  read -r a_rate a_p50 a_p99 a_bad <<<"$(single "http://127.0.0.1:$sluice_port")"
  read -r k_rate k_p50 k_p99 k_bad <<<"$(AUTH_BEARER=$bench_key single "http://127.0.0.1:$auth_port")"
  read -r j_rate j_p50 j_p99 j_bad <<<"$(AUTH_BEARER=$jwt single "http://127.0.0.1:$auth_port")"
  echo "$round | $a_rate $a_p99 | $k_rate $k_p99 ($k_bad) | $j_rate $j_p99 ($j_bad) | $(python3 -c "print(f'{$k_rate/$a_rate:.2f}, {$j_rate/$a_rate:.2f}')")"
done
fi

if want tls; then
# TLS's cost, on the same broker: single-event publish over https:// (keep-alive: the
# handshake once per connection) next to plain http://, and a new connection per
# request (GET /healthz, Connection: close), so each https:// request pays a full
# handshake; its CPU per connection, next to plain, is the handshake's cost.
echo "tls | http/s p99 | https/s p99 (non-2xx) | https/http | new conn: http/s, https/s | CPU µs per new connection: http, https (handshake = the difference)"
for round in $(seq 1 "$rounds"); do
  read -r p_rate p_p50 p_p99 p_bad <<<"$(single "http://127.0.0.1:$sluice_port")"
  read -r t_rate t_p50 t_p99 t_bad <<<"$(single "https://127.0.0.1:$tls_port")"
  read -r pc_rate pc_cpu <<<"$(cpu_us_per_request "http://127.0.0.1:$sluice_port/healthz" /dev/null "$root/bench/publish/new_connection.lua" "$sluice_pid")"
  read -r tc_rate tc_cpu <<<"$(cpu_us_per_request "https://127.0.0.1:$tls_port/healthz" /dev/null "$root/bench/publish/new_connection.lua" "$sluice_pid")"
  echo "$round | $p_rate $p_p99 | $t_rate $t_p99 ($t_bad) | $(python3 -c "print(f'{$t_rate/$p_rate:.2f}')") | $pc_rate, $tc_rate | $pc_cpu, $tc_cpu (+$(python3 -c "print(f'{$tc_cpu-$pc_cpu:.0f}')"))"
done
fi

if want replicas; then
# Replicated acknowledgements' cost: a replica joins Redis, and a third broker answers
# each publish only once it has it (publish.min_replicas: 1, one WAIT per write to
# Redis), next to the first broker on the same, now replicated, Redis. Target: the
# single-event rate with min_replicas 1 >= 0.75x without.
replica_port=$(port); wait_port=$(port)
start_redis "$replica_port" --replicaof 127.0.0.1 "$redis_port" --logfile "$work/replica.log"
redis-cli -p "$redis_port" config set repl-diskless-sync-delay 0 >/dev/null
for _ in $(seq 200); do
  redis-cli -p "$redis_port" info replication | grep -q 'state=online' && break
  sleep 0.1
done
cat > "$work/sluice-wait.yaml" <<YAML
listen: {address: 127.0.0.1, port: $wait_port}
redis: {url: "redis://127.0.0.1:$redis_port"}
schemas: {dir: $work/schemas}
log: {level: warn}
types: {user.created: {compatibility: none}}
publish: {min_replicas: 1, replica_timeout: 1s}
YAML
"$build/sluice" --config "$work/sluice-wait.yaml" > "$work/sluice-wait.log" 2>&1 &
pids+=($!)
wait_ready "$wait_port" "$work/sluice-wait.log"
echo "min_replicas | 0: single/s p50 p99 | 1: single/s p50 p99 (non-2xx) | 1/0 | batch events/s: 0, 1 (non-2xx) | 1/0"
for round in $(seq 1 "$rounds"); do
  read -r a_rate a_p50 a_p99 a_bad <<<"$(single "http://127.0.0.1:$sluice_port")"
  read -r w_rate w_p50 w_p99 w_bad <<<"$(single "http://127.0.0.1:$wait_port")"
  read -r ab_rate ab_p50 ab_p99 ab_bad <<<"$(batch "http://127.0.0.1:$sluice_port")"
  read -r wb_rate wb_p50 wb_p99 wb_bad <<<"$(batch "http://127.0.0.1:$wait_port")"
  echo "$round | $a_rate $a_p50 $a_p99 | $w_rate $w_p50 $w_p99 ($w_bad) | $(python3 -c "print(f'{$w_rate/$a_rate:.2f}')") | $(python3 -c "print(round($ab_rate*100))"), $(python3 -c "print(round($wb_rate*100))") ($wb_bad) | $(python3 -c "print(f'{$wb_rate/$ab_rate:.2f}')")"
done
fi
