#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build (`make fuzz`) for FUZZ_SECONDS each, one
# after the other, and prints a table of runs and executions per second. Exits 1 when
# a target found a crash, a leak, a timeout or a broken property; the input that did
# it is kept under <build>/fuzz-findings/ and its report is printed.
#
# Each target starts from its seed corpus (tests/fuzz/corpus/<name>) copied into
# <build>/fuzz-corpus/<name>, so what it learns stays out of git and is reused by the
# next run on the same machine.
set -euo pipefail
cd "$(dirname "$0")/.."

build="${1:-build/fuzz}"
seconds="${FUZZ_SECONDS:-30}"
rss_mb="${FUZZ_RSS_MB:-2048}"
timeout_s="${FUZZ_TIMEOUT:-10}"  # one input taking longer is a finding (a stall)
only="${FUZZ_TARGETS:-}"         # e.g. FUZZ_TARGETS="resp schema": just those

# Largest input per target: what the parser sees in practice, with room to spare
# (libFuzzer's default, 4096, where nothing larger matters).
declare -A max_len=(
  [ws_frame]=16384 [cloudevent_body]=16384 [cloudevent_binary]=8192 [resp]=16384
  # http_request: a header at the largest limit the config accepts (64 KiB), and past it
  [jwt]=9216 [http_request]=73728 [query]=2048 [position]=256 [traceparent]=256
  # streams_request_body: room for a list of more than max_page (1000) entry ids
  [streams_request_body]=8192
)
declare -A dict=(
  [protocol_frame]=protocol [cloudevent_body]=cloudevent [cloudevent_binary]=cloudevent
  [traceparent]=cloudevent [schema]=schema [resp]=resp [config]=config [http_request]=http
  [streams_request_body]=request_body
)

shopt -s nullglob
targets=("$build"/targets/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "run-fuzz: no targets in $build/targets; build them with: make fuzz" >&2
  exit 2
fi

# Readable stacks in reports: Debian's llvm-14 has the symbolizer under a versioned name.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/bin/llvm-symbolizer-14 ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
fi

mkdir -p "$build/fuzz-corpus" "$build/fuzz-findings" "$build/fuzz-logs"
failed=()
rows=()
for target in "${targets[@]}"; do
  name="${target##*/fuzz_}"
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
  corpus="$build/fuzz-corpus/$name"
  mkdir -p "$corpus"
  if [ -d "tests/fuzz/corpus/$name" ]; then cp -n "tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true; fi
  args=(-max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$timeout_s"
        -max_len="${max_len[$name]:-4096}" -print_final_stats=1
        -artifact_prefix="$build/fuzz-findings/$name-")
  if [ -n "${dict[$name]:-}" ]; then args+=(-dict="tests/fuzz/dict/${dict[$name]}.dict"); fi
  log="$build/fuzz-logs/$name.log"
  echo "run-fuzz: $name for ${seconds}s" >&2
  status=0
  # ASan's leak check is on (a leak per request is a finding); UBSan stops at the first report.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}" \
    "$target" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  files=$(find "$corpus" -type f | wc -l)
  result=ok
  if [ "$status" -ne 0 ]; then
    result="FOUND (exit $status)"
    failed+=("$name")
    echo "run-fuzz: $name found something; its report ($log):" >&2
    grep -v '^#[0-9]' "$log" | tail -n 60 >&2
  fi
  rows+=("$(printf '%-22s %12s %10s %8s  %s' "$name" "${runs:-?}" "${rate:-?}" "$files" "$result")")
done

printf '\n%-22s %12s %10s %8s  %s\n' target runs execs/s corpus result
printf '%s\n' "${rows[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "run-fuzz: findings in: ${failed[*]} (inputs under $build/fuzz-findings/)" >&2
  exit 1
fi
