#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's test command: install dependencies, build, run every test
# (our Boost.Test suites, upstream dbus's own suite on the patched tree,
# CRIU's self-check) through ctest.  Exits non-zero on any failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
build=${DCP_BUILD_DIR:-$top/build}
ctest --test-dir "$build" --output-on-failure --timeout 900 "$@"
