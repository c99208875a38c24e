#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fetch-debian-orig.sh PACKAGE ORIG_FILE SHA256 DEST_DIR [SUITE...]
#
# Download an upstream tarball (Debian's "orig" file) from the Debian source
# archive that this machine's apt is already configured for, check it against
# a pinned sha256 and leave it in DEST_DIR.  The suites (default: trixie) are
# tried in turn until one carries the pinned version.
#
# The system's apt configuration is never edited: a private source list and
# private list/cache directories live under DEST_DIR/apt.  The archive address
# is read from the machine's apt configuration (override: DEBIAN_ARCHIVE_URI).
# First `apt-get source --download-only`; if the archive lacks the .dsc (seen
# for criu 4.1.1; criu 4.2.1's .debian.tar.xz answers 404), the orig file
# alone is fetched from the pool directory that the Sources index names.
# Either way the sha256 decides.
set -euo pipefail

die() { echo "fetch-debian-orig: $*" >&2; exit 1; }

[ $# -ge 4 ] || die "usage: $0 PACKAGE ORIG_FILE SHA256 DEST_DIR [SUITE...]"
package=$1 orig=$2 sha256=$3 dest=$4
shift 4
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(trixie)

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

verify() {
  [ -f "$dest/$orig" ] && echo "$sha256  $dest/$orig" | sha256sum --quiet -c - 2>/dev/null
}

if verify; then
  echo "fetch-debian-orig: $orig already present, sha256 ok"
  exit 0
fi
rm -f "$dest/$orig"

. "$(dirname "$0")/debian-archive.sh"

uri=$(debian_archive_uri)
[ -n "$uri" ] || die "no Debian archive found in /etc/apt (set DEBIAN_ARCHIVE_URI)"

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "$keyring missing: apt-get install debian-archive-keyring"
upstream=${orig#"${package}_"}; upstream=${upstream%.orig.tar.*}

# fetch_from SUITE: 0 once $orig is in $dest with the pinned sha256; 1 when
# SUITE lacks the version (try the next); dies on a failed download or a
# mismatch.
fetch_from() {
  local suite=$1
  local aptdir="$dest/apt/$suite"
  mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/parts"
  echo "deb-src [signed-by=$keyring] $uri $suite main" > "$aptdir/sources.list"
  local apt_opts=(
    -o "Dir::Etc::SourceList=$aptdir/sources.list"
    -o "Dir::Etc::SourceParts=$aptdir/parts"
    -o "Dir::State::Lists=$aptdir/lists"
    -o "Dir::Cache=$aptdir/cache"
    -o "APT::Sandbox::User=root"
  )

  echo "fetch-debian-orig: updating the private $suite source index"
  if ! apt-get "${apt_opts[@]}" -q update >"$aptdir/update.log" 2>&1; then
    echo "fetch-debian-orig: apt-get update of the $suite source index failed (see $aptdir/update.log)"
    return 1
  fi

  # Debian version in $suite whose orig file is the one we pin.
  local record version directory
  record=$(apt-cache "${apt_opts[@]}" showsrc "$package" 2>/dev/null \
           | awk -v RS= -v u="$upstream" '$0 ~ ("\nVersion: ([0-9]+:)?" u "-") { print; exit }')
  if [ -z "$record" ]; then
    echo "fetch-debian-orig: $suite has no source of $package $upstream"
    return 1
  fi
  version=$(printf '%s\n' "$record" | awk '/^Version:/ { print $2; exit }')
  directory=$(printf '%s\n' "$record" | awk '/^Directory:/ { print $2; exit }')

  echo "fetch-debian-orig: apt-get source --download-only $package=$version ($suite)"
  if (cd "$dest" && apt-get "${apt_opts[@]}" -q source --download-only "$package=$version") \
      >"$aptdir/source.log" 2>&1 && [ -f "$dest/$orig" ]; then
    :
  else
    echo "fetch-debian-orig: apt-get source failed (see $aptdir/source.log); fetching $orig alone"
    /usr/lib/apt/apt-helper "${apt_opts[@]}" download-file \
      "$uri/$directory/$orig" "$dest/$orig" "SHA256:$sha256" >"$aptdir/download.log" 2>&1 \
      || die "download of $uri/$directory/$orig failed (see $aptdir/download.log)"
  fi
  verify || die "$orig: sha256 mismatch (want $sha256, got $(sha256sum "$dest/$orig" | cut -d' ' -f1))"
}

for suite in "${suites[@]}"; do
  if fetch_from "$suite"; then
    echo "fetch-debian-orig: $orig sha256 ok"
    exit 0
  fi
done
die "none of the suites ${suites[*]} carries $package $upstream"
