#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's benchmark command: install dependencies, build the benchmark
# programs (test/bench/) and the stock dbus-daemon they compare ours with
# (-DDCP_BENCHMARKS=ON), run them, and write build/bench/report.md and
# build/bench/bench.png.  Extra arguments go to every program (e.g. --runs 7).
# The runs take about 3 minutes on 2 cores (dcp-bench-restore and
# dcp-bench-services, with CRIU, about 2 of them, as root: CRIU needs it); a
# first build about 3 more.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${DCP_BUILD_DIR:-$top/build}
out=$build/bench
start=$SECONDS

"$top/scripts/install-deps.sh" >/dev/null
cmake -S "$top" -B "$build" -G Ninja -DDCP_BENCHMARKS=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target dcp-bench-throughput dcp-bench-checkpoint \
  dcp-bench-restore dcp-bench-wayland dcp-bench-services dcp-bench-migrate dcp-bench-criu-rpc

mkdir -p "$out"
rm -f "$out"/*.jsonl
# Measure a little ahead of other work on the machine (children inherit it).
renice -n -5 -p $$ >/dev/null 2>&1 || true
"$build/test/bench/dcp-bench-throughput" --json "$out/throughput.jsonl" "$@" \
  | tee "$out/throughput.txt"
"$build/test/bench/dcp-bench-checkpoint" --json "$out/checkpoint.jsonl" "$@" \
  | tee "$out/checkpoint.txt"
"$build/test/bench/dcp-bench-restore" --json "$out/restore.jsonl" "$@" \
  | tee "$out/restore.txt"
"$build/test/bench/dcp-bench-wayland" --json "$out/wayland.jsonl" "$@" \
  | tee "$out/wayland.txt"
"$build/test/bench/dcp-bench-services" --json "$out/services.jsonl" "$@" \
  | tee "$out/services.txt"
"$build/test/bench/dcp-bench-migrate" --json "$out/migrate.jsonl" "$@" | tee "$out/migrate.txt"
"$build/test/bench/dcp-bench-criu-rpc" --json "$out/criu-rpc.jsonl" "$@" | tee "$out/criu-rpc.txt"
/usr/bin/python3 "$top/test/bench/report.py" "$out" "$out/throughput.jsonl" \
  "$out/checkpoint.jsonl" "$out/restore.jsonl" "$out/wayland.jsonl" "$out/services.jsonl" \
  "$out/migrate.jsonl" "$out/criu-rpc.jsonl"

echo
echo "bench: done in $((SECONDS - start)) s; report: $out/report.md, plot: $out/bench.png"
