# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by scripts: debian_archive_uri prints the address of the Debian
# archive that this machine's apt is configured for (DEBIAN_ARCHIVE_URI
# overrides it), so that no host name is written into the tree.
debian_archive_uri() {
  if [ -n "${DEBIAN_ARCHIVE_URI:-}" ]; then echo "$DEBIAN_ARCHIVE_URI"; return; fi
  local f uri
  # deb822 .sources files first, then one-line lists; skip the security archive.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f" \
          | grep -v -- '-security' | head -n1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" || $1 == "deb-src" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { print $i; break } }' "$f" \
          | grep -v -- '-security' | head -n1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
}

