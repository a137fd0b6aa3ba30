#!/usr/bin/env bash
# Contract validation speed: `sluice schema validate --loop` against Blaze (the
# sourcemeta `jsonschema` CLI from npm, fast mode, format assertion on), same schema,
# same instance, alternating, one warm-up round then seven counted; prints the
# per-round ratios (Blaze time / Sluice time: above 1 means Sluice is faster) and
# their median. CPU=n picks the CPU both are pinned to (default 0).
#
#   bench/schema/run.sh [BUILD_DIR=build/release]
#   SCHEMA=... INSTANCE=... LOOPS=... to change the pair (default: ../shared/bench-peers).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
schema=${SCHEMA:-../shared/bench-peers/event.schema.json}
instance=${INSTANCE:-../shared/bench-peers/event.json}
loops=${LOOPS:-500000}
# Both run pinned to the same CPU: on these VMs one vCPU can run at half the speed
# of the other, which would swamp any difference between the two validators.
cpu=${CPU:-0}
[ -f "$schema" ] && [ -f "$instance" ] || { echo "bench: schema or instance missing; set SCHEMA and INSTANCE" >&2; exit 2; }
cmake --build "$build" --target sluice >/dev/null

blaze_dir=${XDG_CACHE_HOME:-$HOME/.cache}/sluice-bench/blaze
if [ ! -x "$blaze_dir/node_modules/.bin/jsonschema" ]; then
  mkdir -p "$blaze_dir"
  (cd "$blaze_dir" && npm install --silent @sourcemeta/jsonschema >/dev/null)
fi
blaze="$blaze_dir/node_modules/.bin/jsonschema"

ratios=(); ours_all=(); theirs_all=()
for round in 0 1 2 3 4 5 6 7; do
  ours=$(taskset -c "$cpu" "$build/sluice" schema validate "$schema" "$instance" --loop "$loops" | sed -nE 's/^ *validate: ([0-9]+) ns.*/\1/p')
  theirs_us=$(taskset -c "$cpu" "$blaze" validate "$schema" "$instance" --benchmark --loop "$loops" --fast -F 2>&1 | sed -nE 's/.*PASS ([0-9.]+) \+-.*/\1/p')
  theirs=$(python3 -c "print(round($theirs_us*1000))")
  echo "round $round: sluice ${ours} ns, blaze ${theirs} ns"
  if [ "$round" -gt 0 ]; then
    ours_all+=("$ours"); theirs_all+=("$theirs")
    ratios+=("$(python3 -c "print(f'{$theirs/$ours:.2f}')")")
  fi
done
median() { printf "%s\n" "$@" | sort -g | sed -n 4p; }
echo "per-round ratios (blaze/sluice): ${ratios[*]}"
echo "median: sluice $(median "${ours_all[@]}") ns, blaze $(median "${theirs_all[@]}") ns; median ratio $(median "${ratios[@]}") (target > 1)"
