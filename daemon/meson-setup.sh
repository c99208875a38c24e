#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# meson-setup.sh PKG_CONFIG_DIR BUILD_DIR SOURCE_DIR LOG [MESON_OPTIONS...]
# A fresh meson configuration of the patched tree; on failure the end of
# meson's log is shown instead of a bare exit status.
set -uo pipefail
pkgconfig=$1 build=$2 src=$3 log=$4
shift 4
rm -rf "$build"
if ! PKG_CONFIG_PATH="$pkgconfig" meson setup "$@" "$build" "$src" >"$log" 2>&1; then
  echo "meson-setup: configuring dbus in $build failed; end of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
