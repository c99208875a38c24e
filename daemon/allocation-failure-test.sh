#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# allocation-failure-test.sh PKG_CONFIG_DIR SOURCE_DIR BUILD_DIR
# Freeze, Thaw, Discard, Import and Reattach under upstream's
# allocation-failure loop (bus-patches/0022, bus/checkpoint-test.c): a
# meson tree of the patched SOURCE_DIR with upstream's intrusive (embedded)
# tests, which the daemon we ship never has, in BUILD_DIR (configured once,
# then rebuilt as the sources change); builds and runs test-bus-checkpoint.
# The environment passes through: DBUS_TEST_MALLOC_FAILURES=N (only N
# consecutive failures at each allocation; default 2 to 4, as upstream),
# DBUS_TEST_CHECKPOINT_ONLY=Freeze|Thaw|Discard|Import|Reattach.
set -euo pipefail
pkgconfig=$1 src=$2 build=$3
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$build/build.ninja" ]; then
  "$here/meson-setup.sh" "$pkgconfig" "$build" "$src" "$build.setup.log" \
    --buildtype=debug -Dintrusive_tests=true -Dasserts=true -Dverbose_mode=false \
    -Dmodular_tests=disabled -Dcheckpoint=enabled -Dx11_autolaunch=disabled \
    -Ddoxygen_docs=disabled -Dducktype_docs=disabled -Dxml_docs=disabled \
    -Dqt_help=disabled -Dsystemd=disabled -Dselinux=disabled -Dapparmor=disabled \
    -Dlibaudit=disabled -Dtest_socket_dir=/tmp -Dsession_socket_dir=/tmp
fi
ninja -C "$build" test/test-bus-checkpoint >"$build.ninja.log" 2>&1 || {
  echo "allocation-failure-test: building test-bus-checkpoint failed; end of $build.ninja.log:" >&2
  tail -n 40 "$build.ninja.log" >&2
  exit 1
}
DBUS_TEST_DATA=$build/test/data exec "$build/test/test-bus-checkpoint"
