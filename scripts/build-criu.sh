#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# build-criu.sh SOURCE_DIR LOG: `make criu` in an unpacked CRIU tree.
# Debian's python3 comes first in PATH: CRIU's build imports google.protobuf
# (python3-protobuf), which another python3 earlier in PATH may lack.
# PLUGINDIR: where criu loads plugins from without -L; CRIU's own default
# (/usr/lib/criu, where our package installs the plugin), not the
# /usr/local/lib/criu its Makefile derives from PREFIX.
# The compiler flags of the environment (dpkg-buildflags in the package
# build) are not passed on: CRIU's parasite and restorer blobs run inside the
# dumped task without libc, and CRIU's Makefiles choose their own flags.
set -uo pipefail
src=$1 log=$2
unset MAKEFLAGS MFLAGS CFLAGS CPPFLAGS CXXFLAGS LDFLAGS
if ! PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH make -C "$src" -j"$(nproc)" PLUGINDIR=/usr/lib/criu criu >"$log" 2>&1; then
  echo "build-criu: building CRIU failed; end of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
