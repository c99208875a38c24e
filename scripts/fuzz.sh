#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fuzz our parsers of untrusted bytes (test/fuzz/: records, the state
# directory, the plugin's image files, the CLI's manifest and stop records)
# with libFuzzer, ASan and UBSan.
#
#   ./scripts/fuzz.sh                  a campaign: every target for --runs
#                                      executions (default 1,000,000), then
#                                      a table of executions, speed and
#                                      coverage; non-zero if any crashed
#   ./scripts/fuzz.sh --target T --seconds S
#                                      one target for S seconds (what ctest
#                                      runs, label fuzz)
# Options: --runs N, --fuzz-dir DIR (the built targets, default
# build/fuzz/test/fuzz), --work-dir DIR (corpora, logs and crashing inputs,
# default build/fuzz-runs), --dbus-daemon PATH (the daemon fuzz_import
# starts; default the fuzz tree's, built with ASan + UBSan: a sanitizer
# report or a leak of the daemon fails fuzz_import).  Build first
# (./scripts/build.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${DCP_BUILD_DIR:-$top/build}
fuzz_dir=$build/fuzz/test/fuzz
work=$build/fuzz-runs
runs=1000000 seconds= only=
targets=(fuzz_record_decode fuzz_record_abi fuzz_state_dir fuzz_plugin_record fuzz_manifest fuzz_stop_record
         fuzz_import)
daemon=$build/fuzz/daemon/meson/bus/dbus-daemon

usage() { sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --target) only=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --fuzz-dir) fuzz_dir=$2; shift 2 ;;
    --work-dir) work=$2; shift 2 ;;
    --dbus-daemon) daemon=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "fuzz.sh: unknown argument '$1'" >&2; usage 2 >&2 ;;
  esac
done
[ -n "$only" ] && targets=("$only")
for t in "${targets[@]}"; do
  if [ ! -x "$fuzz_dir/$t" ]; then
    echo "fuzz.sh: $fuzz_dir/$t is not built: run ./scripts/build.sh first" >&2
    exit 1
  fi
done
export DCP_FUZZ_DBUS_DAEMON=$daemon
mkdir -p "$work/artifacts" "$work/logs"
[ -d "$work/corpus" ] || "$fuzz_dir/dcp-fuzz-seeds" "$work/corpus"

# One target; prints "TARGET EXECS EXECS_PER_S COV FT CRASHES".
run_one() {
  local t=$1 log=$work/logs/$1.log limit rc=0
  if [ -n "$seconds" ]; then limit=(-max_total_time="$seconds"); else limit=(-runs="$runs"); fi
  local corpora=("$work/corpus/$t")  # the first grows
  mkdir -p "$work/corpus/$t"
  # Inputs that once failed, kept so they never fail again.
  [ -d "$top/test/fuzz/regressions/$t" ] && corpora+=("$top/test/fuzz/regressions/$t")
  # The daemon is another process, so fuzz_import sees no coverage of its
  # own: it also replays what fuzz_record_abi found in the same parser.
  [ "$t" = fuzz_import ] && [ -d "$work/corpus/fuzz_record_abi" ] && corpora+=("$work/corpus/fuzz_record_abi")
  # -timeout: an input slower than 25 s is a hang (it is ms, not s, here;
  # 10 s was reached once by a run at nice 19 on a loaded machine).
  "$fuzz_dir/$t" "${limit[@]}" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$t-" "${corpora[@]}" >"$log" 2>&1 || rc=$?
  local execs speed done_line cov ft
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  done_line=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
  if [ "$rc" -ne 0 ]; then
    echo "fuzz.sh: $t failed (exit $rc); its log: $log; inputs in $work/artifacts/:" >&2
    grep -E 'ERROR|SUMMARY|invariant|runtime error|Test unit written' "$log" | head -20 >&2 || true
  fi
  printf '%-20s %12s %10s %7s %8s %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
    "$([ "$rc" -eq 0 ] && echo 0 || echo 1)"
  return "$rc"
}

printf '%-20s %12s %10s %7s %8s %s\n' target executions "exec/s" cov features crashes
failed=0
for t in "${targets[@]}"; do
  run_one "$t" || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: FAILED (see above)" >&2
  exit 1
fi
