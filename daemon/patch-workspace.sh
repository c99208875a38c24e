#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# patch-workspace.sh init DIR | export DIR
#
# For working on bus-patches/:
#   init    unpack the pinned dbus tarball (from build/downloads) into DIR as a
#           git repository, commit it as "upstream", and `git am` the series;
#   export  write DIR's commits since "upstream" back to bus-patches/ as
#           NNNN-<name>.patch, keeping the name of the patch each replaces
#           (by number) and naming new ones from their subject.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
patches=$top/bus-patches
tarball=${DBUS_TARBALL:-$top/build/downloads/dbus_1.16.2.orig.tar.xz}

case "${1:-}" in
  init)
    dir=$2
    [ -f "$tarball" ] || { echo "no $tarball: configure the build first" >&2; exit 1; }
    mkdir -p "$dir"
    tar -xf "$tarball" -C "$dir" --strip-components=1
    cd "$dir"
    git init -q
    git add -A
    git -c user.name=upstream -c user.email=upstream@invalid commit -qm upstream
    git tag -f upstream >/dev/null
    git am -q "$patches"/*.patch
    git log --oneline upstream..HEAD
    ;;
  export)
    dir=$2
    out=$(mktemp -d)
    git -C "$dir" format-patch -q --zero-commit --no-signature -N -o "$out" upstream..HEAD
    for f in "$out"/*.patch; do
      n=$(basename "$f" | cut -c1-4)
      old=$(ls "$patches"/"$n"-*.patch 2>/dev/null | head -n1 || true)
      if [ -n "$old" ]; then
        mv "$f" "$old"
      else
        mv "$f" "$patches/$(basename "$f")"
      fi
    done
    rmdir "$out"
    ls "$patches"
    ;;
  *)
    echo "usage: $0 init DIR | export DIR" >&2
    exit 2
    ;;
esac
