#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install, with apt, everything needed to build and test dbus-checkpoint on
# Debian bookworm or trixie.  Run as root.  Safe to run again.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (apt-get install)" >&2
  exit 1
fi

packages=(
  # our build
  build-essential cmake ninja-build meson pkg-config git xz-utils ca-certificates
  dpkg-dev                       # apt-get source needs dpkg-source to exist
  libprotobuf-dev protobuf-compiler libboost-test-dev
  clang libclang-rt-14-dev       # test/fuzz: libFuzzer, ASan and UBSan (build/fuzz)
  nlohmann-json3-dev             # the CLI's JSON (--json, dbus-checkpoint.json)
  # the daemon, built as Debian builds it
  libexpat1-dev libsystemd-dev libcap-ng-dev libaudit-dev libselinux1-dev
  libapparmor-dev libglib2.0-dev libx11-dev python3
  # CRIU 4.2.1 from source (bookworm's 3.17 and trixie's 4.1.1 fail on these machines)
  libprotobuf-c-dev protobuf-c-compiler libnl-3-dev libnet1-dev libcap-dev
  libbsd-dev python3-protobuf libnftables-dev libgnutls28-dev uuid-dev iproute2
  # real client libraries and tools used by the tests
  python3-dbus python3-gi gir1.2-glib-2.0 libglib2.0-bin dbus-bin systemd
  libdbus-1-dev                  # libdbus marshalling for raw-socket tests
  procps util-linux
  # test/system: Debian's own system services on our daemon as the system bus
  avahi-daemon accountsservice rtkit polkitd
  # test/wayland and demo-wayland.sh: headless weston (its weston-terminal and
  # weston-screenshooter), our Wayland client's build, PNG decoding; weston's
  # x11 backend in Xvfb with keys typed by xdotool (a seat with a keyboard)
  weston libwayland-dev libwayland-bin wayland-protocols libpng-dev xvfb xdotool
  # scripts/package.sh (debhelper packaging, lintian) and the man pages
  debhelper lintian man-db groff-base
  xsltproc docbook-xsl docbook-xml  # upstream dbus's man pages, in the package build
  # scripts/qa-booted.sh: a bookworm root booted with systemd-nspawn
  debootstrap systemd-container debian-archive-keyring
  # scripts/bench.sh: dbus-broker to compare with, matplotlib for the plot
  dbus-broker python3-matplotlib
)

export DEBIAN_FRONTEND=noninteractive
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  apt-get update
fi
apt-get install -y --no-install-recommends "${packages[@]}"
