#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# apply-patches.sh TARBALL SRC_DIR PATCH_DIR STAMP
#
# Unpack the upstream dbus tarball into SRC_DIR (replacing what was there)
# and apply the patches of PATCH_DIR in the order of PATCH_DIR/series.  A
# patch that does not apply stops with its name and patch(1)'s output;
# SRC_DIR is then removed so that a half-patched tree is never built.
set -euo pipefail

tarball=$1 src=$2 patches=$3 stamp=$4

rm -rf "$src" "$stamp"
series=$("$(dirname "$0")/series.sh" "$patches")
mkdir -p "$src"
tar -xf "$tarball" -C "$src" --strip-components=1

count=0
while IFS= read -r p; do
  [ -n "$p" ] || continue
  if ! out=$(patch -d "$src" -p1 --forward --batch --no-backup-if-mismatch -i "$p" 2>&1); then
    echo "apply-patches: $(basename "$p") does not apply to $(basename "$tarball"):" >&2
    echo "$out" >&2
    rm -rf "$src"
    exit 1
  fi
  count=$((count + 1))
done <<<"$series"
echo "apply-patches: $count patch(es) applied to $(basename "$tarball")"
touch "$stamp"
