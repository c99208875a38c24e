#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Configure and build everything into ./build (or $DCP_BUILD_DIR): our C++
# library, the patched dbus-daemon, CRIU if the system's is unusable, tests.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${DCP_BUILD_DIR:-$top/build}
start=$SECONDS
cmake -S "$top" -B "$build" -G Ninja
cmake --build "$build" -j"$(nproc)"
echo "build: done in $((SECONDS - start)) s ($build)"
