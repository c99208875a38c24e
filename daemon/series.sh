#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# series.sh PATCH_DIR
#
# Print the paths of the patches of PATCH_DIR/series, one a line, in the
# order they apply.  The series file names one patch a line; blank lines
# and lines starting with # are ignored.  Fails, naming the file, if a
# listed patch is missing or a PATCH_DIR/*.patch is not listed.  A
# directory with neither a series nor patches is an empty series.
set -euo pipefail
dir=$(cd "$1" && pwd)
series=$dir/series
shopt -s nullglob
if [ ! -f "$series" ]; then
  # no series: only a directory without patches (e.g. the stock build's)
  patch_files=("$dir"/*.patch)
  [ ${#patch_files[@]} -eq 0 ] || { echo "series: no $series for the patches in $dir" >&2; exit 1; }
  exit 0
fi

declare -A listed=()
paths=()
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in ''|'#'*) continue ;; esac
  [ -f "$dir/$line" ] || { echo "series: $series lists $line, which is not in $dir" >&2; exit 1; }
  [ -z "${listed[$line]:-}" ] || { echo "series: $series lists $line twice" >&2; exit 1; }
  listed[$line]=1
  paths+=("$dir/$line")
done <"$series"

for p in "$dir"/*.patch; do
  [ -n "${listed[$(basename "$p")]:-}" ] || { echo "series: $(basename "$p") is in $dir but not in $series" >&2; exit 1; }
done
[ ${#paths[@]} -eq 0 ] || printf '%s\n' "${paths[@]}"
