#!/usr/bin/env bash
# build-criu.sh SOURCE_DIR LOG: `make criu` in an unpacked CRIU tree.
# Debian's python3 comes first in PATH: CRIU's build imports google.protobuf
# (python3-protobuf), which another python3 earlier in PATH may lack.
set -uo pipefail
src=$1 log=$2
unset MAKEFLAGS MFLAGS
if ! PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH make -C "$src" -j"$(nproc)" criu >"$log" 2>&1; then
  echo "build-criu: building CRIU failed; end of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
