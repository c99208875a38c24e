#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# check-series.sh [--fresh] [--keep] [--no-disabled] [--scratch DIR] [--build BUILD_DIR]
#
# Proves that every prefix of bus-patches/series builds and passes upstream's
# own suite: the pinned tarball is unpacked as a git repository with the
# series applied by `git am` (patch-workspace.sh init), then each commit is checked
# out in turn, built with the options of our build (BUILD_DIR's
# daemon/meson-options.txt, written by daemon/CMakeLists.txt) against our
# library (BUILD_DIR's daemon/pkgconfig), and `meson test` runs.  One line
# per patch: time, build result, test counts.  Stops with a non-zero exit
# at the first patch that does not apply, build or pass.
#
# The build directory is kept between patches (ninja rebuilds what the
# checkout changed; meson reconfigures itself when a meson.build changed);
# --fresh runs meson setup from scratch for every patch instead.  BUILD_DIR
# (default: ./build) must have been built (./scripts/build.sh) so that our
# library exists.
#
# Then the whole series is built once more with -Dcheckpoint=disabled, in a
# fresh meson directory and without our pkg-config directory (so meson
# could not find our library if the build asked for it), and upstream's
# suite runs on that too: the daemon must have no dcp_ symbol and must not
# name dbus-checkpoint in --version.  --no-disabled skips this.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
scratch=
fresh=0
keep=0
disabled=1
while [ $# -gt 0 ]; do
  case "$1" in
    --fresh) fresh=1 ;;
    --keep) keep=1 ;;
    --no-disabled) disabled=0 ;;
    --scratch) scratch=$2; shift ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    *) echo "usage: $0 [--fresh] [--keep] [--no-disabled] [--scratch DIR] [--build BUILD_DIR]" >&2; exit 2 ;;
  esac
  shift
done

options_file=$build/daemon/meson-options.txt
pkgconfig=$build/daemon/pkgconfig
for f in "$options_file" "$pkgconfig/dbus-checkpoint-bus.pc"; do
  [ -f "$f" ] || { echo "check-series: no $f: build $build first (./scripts/build.sh)" >&2; exit 2; }
done
mapfile -t options <"$options_file"

if [ -z "$scratch" ]; then
  scratch=$(mktemp -d /tmp/check-series.XXXXXX)
else
  rm -rf "$scratch"
  mkdir -p "$scratch"
fi
# upstream's uid-permissions test runs the bus as other users, who must
# reach the build tree (mktemp -d makes it 0700: the test would skip)
chmod 755 "$scratch"
[ "$keep" = 1 ] || trap 'rm -rf "$scratch"' EXIT
src=$scratch/src meson_dir=$scratch/meson log=$scratch/log

if ! DBUS_TARBALL=${DBUS_TARBALL:-$build/downloads/dbus_1.16.2.orig.tar.xz} \
     "$top/daemon/patch-workspace.sh" init "$src" >"$log" 2>&1; then
  echo "check-series: the series does not apply:" >&2
  cat "$log" >&2
  exit 1
fi
mapfile -t commits < <(git -C "$src" rev-list --reverse upstream..HEAD)
mapfile -t patches < <("$top/daemon/series.sh" "$top/bus-patches")

# setup_and_build: configure (once, or every time with --fresh) and build;
# output in $log.
setup_and_build ()
{
  if [ "$fresh" = 1 ] || [ ! -d "$meson_dir" ]; then
    rm -rf "$meson_dir"
    PKG_CONFIG_PATH=$pkgconfig nice meson setup "${options[@]}" \
      "$meson_dir" "$src" >"$log" 2>&1 || return 1
  fi
  PKG_CONFIG_PATH=$pkgconfig nice ninja -C "$meson_dir" >>"$log" 2>&1
}

# run_suite: upstream's `meson test`; prints its counts, fails on any
# failure, timeout or unexpected pass.
run_suite ()
{
  local out summary
  out=$(nice meson test -C "$meson_dir" --print-errorlogs --num-processes 2 2>&1)
  local rc=$?
  echo "$out" >>"$log"
  summary=$(echo "$out" | awk -F: '/^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout):/ {
              n = $2; gsub(/ /, "", n)
              if (n != "0") { printf "%s%s %s", sep, n, tolower($1); sep = ", " } }')
  echo "${summary:-no summary}"
  return $rc
}

# check NAME BUILD: one line for the tree checked out now, built by the
# function BUILD.
check ()
{
  local name=$1 build=$2 start=$SECONDS result
  if ! "$build"; then
    printf '%-48s %4d s  BUILD FAILED\n' "$name" $((SECONDS - start))
    tail -n 40 "$log" >&2
    return 1
  fi
  local built=$((SECONDS - start))
  if ! result=$(run_suite); then
    printf '%-48s %4d s  built in %d s, meson test FAILED: %s\n' "$name" $((SECONDS - start)) "$built" "$result"
    grep -E '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT|ERROR)' "$log" >&2
    tail -n 60 "$log" >&2
    return 1
  fi
  printf '%-48s %4d s  built in %3d s, meson test: %s\n' "$name" $((SECONDS - start)) "$built" "$result"
}

echo "check-series: ${#commits[@]} patch(es), build options from $options_file"
total=$SECONDS
n=0
for c in "${commits[@]}"; do
  n=$((n + 1))
  git -C "$src" checkout -q "$c"
  name=$(basename "${patches[n - 1]}" .patch)
  check "$name" setup_and_build || { echo "check-series: stopped at patch $n (scratch tree: $scratch)" >&2; keep=1; trap - EXIT; exit 1; }
done
echo "check-series: all ${#commits[@]} prefixes pass ($((SECONDS - total)) s)"
[ "$disabled" = 1 ] || exit 0

# build_disabled: the whole series with -Dcheckpoint=disabled, configured
# afresh without our pkg-config directory, must be stock dbus-daemon: no
# dcp_ symbol, no dbus-checkpoint in --version.
build_disabled ()
{
  local option
  local disabled_options=()
  for option in "${options[@]}"; do
    case "$option" in -Dcheckpoint=*) ;; *) disabled_options+=("$option") ;; esac
  done
  meson_dir=$scratch/meson-disabled
  rm -rf "$meson_dir"
  nice meson setup "${disabled_options[@]}" -Dcheckpoint=disabled \
    "$meson_dir" "$src" >"$log" 2>&1 || return 1
  nice ninja -C "$meson_dir" >>"$log" 2>&1 || return 1
  if nm "$meson_dir/bus/dbus-daemon" | grep ' dcp_' >>"$log"; then
    echo "check-series: -Dcheckpoint=disabled: the daemon has dcp_ symbols" >>"$log"
    return 1
  fi
  if "$meson_dir/bus/dbus-daemon" --version | grep dbus-checkpoint >>"$log"; then
    echo "check-series: -Dcheckpoint=disabled: --version names dbus-checkpoint" >>"$log"
    return 1
  fi
}

check -Dcheckpoint=disabled build_disabled || { echo "check-series: the series with -Dcheckpoint=disabled fails (scratch tree: $scratch)" >&2; keep=1; trap - EXIT; exit 1; }
echo "check-series: -Dcheckpoint=disabled builds without dbus-checkpoint and passes"
