#!/usr/bin/env bash
# `make run`: a local Redis (unless one already answers) and the broker with the
# example config, in the foreground. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-build/release/sluice}
config=${SLUICE_CONFIG:-config/sluice.yaml}
redis_port=${REDIS_PORT:-6379}
export SLUICE_REDIS_URL=${SLUICE_REDIS_URL:-redis://127.0.0.1:${redis_port}/0}
listen=${SLUICE_LISTEN:-127.0.0.1:8080}

redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    redis-cli -p "$redis_port" shutdown >/dev/null 2>&1 || kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    echo "run: stopped the local redis-server"
  fi
}
trap cleanup EXIT

if redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
  echo "run: using the Redis already answering on 127.0.0.1:${redis_port}"
else
  mkdir -p var/redis
  # Runs in its own process group so Ctrl-C reaches only the broker; we stop Redis
  # ourselves once the broker has drained.
  setsid redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$PWD/var/redis" \
    --appendonly yes --save "" --logfile "$PWD/var/redis/redis.log" &
  redis_pid=$!
  for _ in $(seq 1 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 || { echo "run: redis-server did not start; see var/redis/redis.log" >&2; exit 1; }
  echo "run: started redis-server on 127.0.0.1:${redis_port} (data and AOF in var/redis)"
fi

key=${SLUICE_DEMO_KEY:-sk_demo_local_only}  # the demo key of config/sluice.yaml
cat <<MSG
run: starting sluice on http://${listen} -- try, in another terminal:
  curl -s http://${listen}/readyz
  curl -s http://${listen}/v1/version -H 'Authorization: Bearer ${key}'
  curl -s http://${listen}/metrics -H 'Authorization: Bearer ${key}' | head
  curl -s -XPOST http://${listen}/v1/events -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' \\
    -d '{"type":"user.created","data":{"user_id":"0f8c3e2a-6b1d-4c9e-9a57-3d2b1f0e8a41","email":"ada@example.com"}}'
  npx wscat -c 'ws://${listen}/v1/ws?access_token=${key}'     # then: {"op":"subscribe","id":"s1","type":"user.created","from":"start"}
Ctrl-C drains the broker and stops Redis.
MSG
export SLUICE_LISTEN="$listen"
# In the foreground: Ctrl-C reaches the broker, which drains and exits; the EXIT
# trap then stops the Redis we started.
set +e
"$binary" --config "$config"
status=$?
exit $status
