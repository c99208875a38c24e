#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's packaging command: build dbus-checkpoint's Debian packages from
# this tree with debhelper (packaging/debian) and check them with lintian.
#
#   ./scripts/package.sh [--force]
#
# Steps: install the dependencies (apt), fetch the pinned upstream tarballs
# (dbus 1.16.2, CRIU 4.2.1; sha256-checked, shared with the normal build),
# stage the files git knows plus packaging/debian as a native source package
# (build/packages/source/: .dsc, .tar.xz), build the binary packages from it
# with dpkg-buildpackage in build/packages/src/ (offline: the tarballs go
# into debian/downloads/; its obj-*/ is kept, so a change rebuilds only what
# it touches), put the .debs in build/packages/ and run lintian on them and
# the source package.  Lintian errors fail the script; its
# warnings and notes are printed (and kept in build/packages/lintian.txt).
# When the inputs are unchanged since the last successful run the packages
# are reused; --force rebuilds everything from scratch.  Run as root (apt-get install).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${DCP_BUILD_DIR:-$top/build}
out=$build/packages
force=no
case ${1:-} in
  --force) force=yes ;;
  '') ;;
  -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "package: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

start=$SECONDS
step() { printf 'package: %s\n' "$*"; }
die() { echo "package: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs the build dependencies with apt)"
command -v git >/dev/null || die "git is needed to list the tree's files (apt-get install git)"

t=$SECONDS
mkdir -p "$build"
deps_log=$(mktemp)
"$top/scripts/install-deps.sh" >"$deps_log" 2>&1 \
  || { tail -n 20 "$deps_log" >&2; rm -f "$deps_log"; die "installing the dependencies failed"; }
rm -f "$deps_log"
step "dependencies installed ($((SECONDS - t)) s)"

# The pins, from CMakeLists.txt (one place).
pin() { sed -n "s/^set($1 \(.*\))$/\1/p" "$top/CMakeLists.txt"; }
version=$(sed -n 's/^project(dbus-checkpoint VERSION \([0-9.]*\) .*/\1/p' "$top/CMakeLists.txt")
dbus_version=$(pin DBUS_UPSTREAM_VERSION) dbus_sha=$(pin DBUS_ORIG_SHA256)
criu_version=$(pin CRIU_UPSTREAM_VERSION) criu_sha=$(pin CRIU_ORIG_SHA256)
read -r -a criu_suites <<<"$(pin CRIU_DEBIAN_SUITES)"
changelog_version=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)
[ "$changelog_version" = "$version" ] \
  || die "packaging/debian/changelog is at $changelog_version, CMakeLists.txt at $version"

t=$SECONDS
downloads=$build/downloads
"$top/scripts/fetch-debian-orig.sh" dbus "dbus_${dbus_version}.orig.tar.xz" "$dbus_sha" "$downloads" >/dev/null
"$top/scripts/fetch-debian-orig.sh" criu "criu_${criu_version}.orig.tar.xz" "$criu_sha" "$downloads" \
  "${criu_suites[@]}" >/dev/null
step "upstream tarballs present, sha256 ok ($((SECONDS - t)) s)"

# The inputs: the files git knows (tracked, or new and not ignored) that exist.
mapfile -d '' files < <(cd "$top" && git ls-files -z --cached --others --exclude-standard)
existing=()
for f in "${files[@]}"; do [ -f "$top/$f" ] && existing+=("$f"); done
inputs=$( (cd "$top" && printf '%s\0' "${existing[@]}" | xargs -0 sha256sum; \
           echo "$dbus_sha $criu_sha") | sha256sum | cut -d' ' -f1)
if [ "$force" = no ] && [ -f "$out/inputs.sha256" ] && [ "$(cat "$out/inputs.sha256")" = "$inputs" ] \
   && ls "$out"/*.deb >/dev/null 2>&1; then
  step "packages up to date with the tree (--force rebuilds):"
  (cd "$out" && ls -s --block-size=K ./*.deb)
  exit 0
fi

# The source package is made from a clean staging tree; the binary build
# runs in a work tree that keeps its obj-*/ build directory between runs, so
# that a change rebuilds only what it touches (--force starts afresh).
source_dir=$out/source
stage=$source_dir/dbus-checkpoint-$version
work=$out/src/dbus-checkpoint-$version
rm -rf "$source_dir" "$out"/*.deb "$out/debug"
[ "$force" = yes ] && rm -rf "$out/src"
mkdir -p "$stage" "$work"
(cd "$top" && printf '%s\0' "${existing[@]}" | tar --null -T - -cf -) | tar -xf - -C "$stage"
rm -rf "$stage/debian"
cp -a "$top/packaging/debian" "$stage/debian"
mkdir -p "$stage/debian/downloads"
cp "$downloads/dbus_${dbus_version}.orig.tar.xz" "$downloads/criu_${criu_version}.orig.tar.xz" \
  "$stage/debian/downloads/"
(cd "$source_dir" && dpkg-source -b "dbus-checkpoint-$version") >"$out/source.log" 2>&1 \
  || { tail -n 20 "$out/source.log" >&2; die "dpkg-source -b failed (log: $out/source.log)"; }
step "source package: $(cd "$source_dir" && ls ./*.dsc ./*.tar.*)"

find "$work" -mindepth 1 -maxdepth 1 ! -name 'obj-*' -exec rm -rf {} +
cp -a "$stage/." "$work/"
t=$SECONDS
step "dpkg-buildpackage -b in $work (log: $out/build.log)"
if ! (cd "$work" && dpkg-buildpackage -b -nc -us -uc -j"$(nproc)") >"$out/build.log" 2>&1; then
  tail -n 40 "$out/build.log" >&2
  die "dpkg-buildpackage failed after $((SECONDS - t)) s (whole log: $out/build.log)"
fi
build_seconds=$((SECONDS - t))
mkdir -p "$out/debug"
mv "$out/src"/*-dbgsym_*.deb "$out/debug/"
mv "$out/src"/*.deb "$out/"
step "built in $build_seconds s:"
(cd "$out" && for deb in ./*.deb; do
   printf '  %-52s %6s KiB, installed %6s KiB\n' "${deb#./}" "$(( $(stat -c %s "$deb") / 1024 ))" \
     "$(dpkg-deb -f "$deb" Installed-Size)"
 done)

t=$SECONDS
lintian --info --display-info "$source_dir"/*.dsc "$out"/*.deb >"$out/lintian.txt" 2>&1 || true
errors=$(grep -c '^E: ' "$out/lintian.txt" || true)
warnings=$(grep -c '^W: ' "$out/lintian.txt" || true)
step "lintian ($((SECONDS - t)) s): $errors errors, $warnings warnings, $(grep -c '^[IP]: ' "$out/lintian.txt" || true) notes"
grep -E '^[EWIP]: ' "$out/lintian.txt" | sed 's/^/  /' || true
[ "$errors" -eq 0 ] || die "lintian reports errors (see $out/lintian.txt)"

echo "$inputs" >"$out/inputs.sha256"
step "done in $((SECONDS - start)) s: $out/*.deb (debug symbols: $out/debug/)"
