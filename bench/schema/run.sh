#!/usr/bin/env bash
# Contract validation speed: `sluice schema validate --loop` against Blaze (the
# sourcemeta `jsonschema` CLI from npm, fast mode), same schema, same instances, both
# pinned to the same CPU: on these VMs one vCPU can run at half the speed of the
# other, which would swamp any difference between the two validators.
# Cases: the valid reference event and an invalid variant of it (a bad uuid and a
# negative age), each with formats asserted and as annotations. One warm-up round,
# then five counted; per case it prints the median times and the median of the
# per-round ratios (Blaze time / Sluice time: above 1 means Sluice is faster), and
# Sluice's parse + validate time.
#
#   bench/schema/run.sh [BUILD_DIR=build/release]
#   SCHEMA=... INSTANCE=... LOOPS=... CPU=... to change the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
schema=${SCHEMA:-../shared/bench-peers/event.schema.json}
instance=${INSTANCE:-../shared/bench-peers/event.json}
loops=${LOOPS:-300000}
cpu=${CPU:-0}
[ -f "$schema" ] && [ -f "$instance" ] || { echo "bench: schema or instance missing; set SCHEMA and INSTANCE" >&2; exit 2; }
cmake --build "$build" --target sluice >/dev/null

blaze_dir=${XDG_CACHE_HOME:-$HOME/.cache}/sluice-bench/blaze
if [ ! -x "$blaze_dir/node_modules/.bin/jsonschema" ]; then
  mkdir -p "$blaze_dir"
  (cd "$blaze_dir" && npm install --silent @sourcemeta/jsonschema >/dev/null)
fi
blaze="$blaze_dir/node_modules/.bin/jsonschema"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$instance" "$work/valid.json"
python3 - "$instance" "$work/invalid.json" <<'PY'
import json, sys
event = json.load(open(sys.argv[1]))
event["id"] = "not-a-uuid"
if isinstance(event.get("data"), dict):
    event["data"]["age"] = -1
json.dump(event, open(sys.argv[2], "w"))
PY

ours() {  # instance, formats on|off -> "validate_ns parse_validate_ns"
  taskset -c "$cpu" "$build/sluice" schema validate "$schema" "$1" --loop "$loops" --formats "$2" |
    sed -nE 's/^ *validate: ([0-9]+) ns\/op, parse\+validate: ([0-9]+) ns.*/\1 \2/p'
}
theirs() {  # instance, -F or "" -> ns
  local us
  us=$(taskset -c "$cpu" "$blaze" validate "$schema" "$1" --benchmark --loop "$loops" --fast $2 2>&1 |
    sed -nE 's/.*(PASS|FAIL) ([0-9.]+) \+-.*/\2/p' | head -1)
  python3 -c "print(round($us*1000))"
}
median() { printf "%s\n" "$@" | sort -g | sed -n 3p; }

declare -A ours_ns theirs_ns ratios pv
for round in 0 1 2 3 4 5; do
  for inst in valid invalid; do
    for fmt in on off; do
      read -r o p <<<"$(ours "$work/$inst.json" "$fmt")"
      t=$(theirs "$work/$inst.json" "$([ "$fmt" = on ] && echo -F || true)")
      [ "$round" -gt 0 ] || continue
      key="$inst, formats $fmt"
      ours_ns[$key]+="$o "; theirs_ns[$key]+="$t "; pv[$key]+="$p "
      ratios[$key]+="$(python3 -c "print(f'{$t/$o:.2f}')") "
    done
  done
  [ "$round" -gt 0 ] && echo "round $round done"
done
for key in "valid, formats on" "invalid, formats on" "valid, formats off" "invalid, formats off"; do
  echo "$key: sluice $(median ${ours_ns[$key]}) ns (parse+validate $(median ${pv[$key]}) ns), blaze $(median ${theirs_ns[$key]}) ns; ratios ${ratios[$key]}-> median $(median ${ratios[$key]})"
done
