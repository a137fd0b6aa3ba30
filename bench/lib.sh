# Shared by the benchmark scripts that run a broker against the reference event:
# sourced after `work` (a temp folder) and `peers` (../shared/bench-peers) are set and
# `pids` is an array the script's cleanup kills.

# A free TCP port on 127.0.0.1.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_redis PORT [extra redis-server arguments]: no persistence, data under $work.
start_redis() {
  local p=$1; shift
  redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
    --logfile "$work/redis.log" "$@" &
  pids+=($!)
}

# The reference contract (event.schema.json's `data`, draft 2020-12, as
# $work/schemas/user.created/v1.json) and bodies derived from event.json:
# $work/single.json (a simple envelope) and $work/batch.json (100 CloudEvents).
write_reference_bodies() {
  mkdir -p "$work/schemas/user.created"
  python3 - "$peers" "$work" <<'PY'
import json, sys
peers, work = sys.argv[1], sys.argv[2]
schema = json.load(open(f"{peers}/event.schema.json"))
data_schema = schema["properties"]["data"]
data_schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
json.dump(data_schema, open(f"{work}/schemas/user.created/v1.json", "w"))
event = json.load(open(f"{peers}/event.json"))
envelope = {"type": "user.created", "version": 1, "data": event["data"]}
json.dump(envelope, open(f"{work}/single.json", "w"), separators=(",", ":"))
ce = {"specversion": "1.0", "type": "user.created", "source": "/bench", "version": 1, "data": event["data"]}
json.dump([ce] * 100, open(f"{work}/batch.json", "w"), separators=(",", ":"))
PY
}
