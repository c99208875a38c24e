#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# patch-workspace.sh init DIR | export DIR
#
# For working on bus-patches/:
#   init    unpack the pinned dbus tarball (from build/downloads) into DIR as a
#           git repository, commit it as "upstream", and `git am` the series
#           in the order of bus-patches/series;
#   export  write DIR's commits since "upstream" back to bus-patches/ as
#           NNNN-<name>.patch numbered by position, and bus-patches/series in
#           that order.  A commit keeps the name of the patch with the same
#           subject; a new subject is named from its words.  Patches of no
#           commit are removed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
patches=$top/bus-patches
tarball=${DBUS_TARBALL:-$top/build/downloads/dbus_1.16.2.orig.tar.xz}

# subject_of PATCH: the subject, unfolded, without "[PATCH]".
subject_of ()
{
  git mailinfo /dev/null /dev/null <"$1" | sed -n 's/^Subject: //p'
}

case "${1:-}" in
  init)
    dir=$2
    [ -f "$tarball" ] || { echo "no $tarball: configure the build first" >&2; exit 1; }
    mapfile -t series < <("$top/daemon/series.sh" "$patches")
    mkdir -p "$dir"
    tar -xf "$tarball" -C "$dir" --strip-components=1
    cd "$dir"
    git init -q
    git add -A
    git -c user.name=upstream -c user.email=upstream@invalid commit -qm upstream
    git tag -f upstream >/dev/null
    git am -q "${series[@]}"
    git log --oneline upstream..HEAD
    ;;
  export)
    dir=$2
    declare -A name_of=()
    shopt -s nullglob
    for p in "$patches"/*.patch; do
      name_of[$(subject_of "$p")]=$(basename "$p" .patch | cut -c6-)
    done
    out=$(mktemp -d)
    git -C "$dir" format-patch -q --zero-commit --no-signature -N -o "$out" upstream..HEAD
    rm -f "$patches"/*.patch
    : >"$patches/series"
    for f in "$out"/*.patch; do
      n=$(basename "$f" | cut -c1-4)
      name=${name_of[$(subject_of "$f")]:-$(basename "$f" .patch | cut -c6-)}
      mv "$f" "$patches/$n-$name.patch"
      echo "$n-$name.patch" >>"$patches/series"
    done
    rmdir "$out"
    cat "$patches/series"
    ;;
  *)
    echo "usage: $0 init DIR | export DIR" >&2
    exit 2
    ;;
esac
