#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# build-criu.sh SOURCE_DIR LOG: `make criu` in an unpacked CRIU tree.
# Debian's python3 comes first in PATH: CRIU's build imports google.protobuf
# (python3-protobuf), which another python3 earlier in PATH may lack.
# PLUGINDIR: where criu loads plugins from without -L; CRIU's own default
# (/usr/lib/criu, where our package installs the plugin), not the
# /usr/local/lib/criu its Makefile derives from PREFIX.
# NO_GNUTLS=1: CRIU's only use of gnutls is --tls for its page server,
# which we do not use, and loading gnutls (and the eight libraries it pulls
# in) costs every criu command ~10 ms of CPU before it starts (measured
# here: an empty program 3 ms, linked with gnutls 13 ms): a restore runs criu
# twice (--version, restore).  NO_NFTABLES=1 (criu-patches/0009): the same
# for libnftables and the five libraries it pulls in, used only by
# --network-lock nftables (the default lock is iptables): 0.7 ms of every
# criu exec here.  A tree built with other flags is cleaned
# first, so no object keeps the old configuration.
# The compiler flags of the environment (dpkg-buildflags in the package
# build) are not passed on: CRIU's parasite and restorer blobs run inside the
# dumped task without libc, and CRIU's Makefiles choose their own flags.
set -uo pipefail
src=$1 log=$2
unset MAKEFLAGS MFLAGS CFLAGS CPPFLAGS CXXFLAGS LDFLAGS
flags=(PLUGINDIR=/usr/lib/criu NO_GNUTLS=1 NO_NFTABLES=1)
stamp=$src/.dbus-checkpoint-make-flags
: >"$log"
if [ -e "$src/criu/criu" ] && [ "$(cat "$stamp" 2>/dev/null)" != "${flags[*]}" ]; then
  make -C "$src" clean >>"$log" 2>&1 || true
fi
if ! PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH make -C "$src" -j"$(nproc)" "${flags[@]}" criu >>"$log" 2>&1; then
  echo "build-criu: building CRIU failed; end of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
echo "${flags[*]}" >"$stamp"
