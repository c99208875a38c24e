#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes a bus configuration for a private bus on our patched daemon, from
# the daemon's own shipped config with only what cannot work outside a real
# system rewritten: it listens on DIR's socket, keeps frozen connections'
# records in DIR/checkpoint, runs in the foreground as the current user,
# and reads nothing of the host's configuration.
#   system:  DIR/system.conf, socket DIR/system_bus_socket, policy DIR/system.d
#            (system.conf's own <includedir>system.d</includedir>)
#   session: DIR/session.conf, socket DIR/session_bus_socket, nothing
#            activatable (services from DIR/services only)
# Usage: bus-config.sh system|session BUILD_DIR DIR   (prints the address)
set -euo pipefail
kind=$1 build=$2 dir=$3
case $kind in
  system)
    sed -e "s|<listen>[^<]*</listen>|<listen>unix:path=$dir/system_bus_socket</listen>|" \
        -e "s|<checkpoint_dir>[^<]*</checkpoint_dir>|<checkpoint_dir>$dir/checkpoint</checkpoint_dir>|" \
        -e 's|<user>[^<]*</user>||; s|<fork/>||; s|<pidfile>[^<]*</pidfile>||; s|<syslog/>||' \
        -e 's|<include ignore_missing="yes">/etc/[^<]*</include>||; s|<standard_system_servicedirs/>||' \
        -e 's|<includedir>/etc/[^<]*</includedir>||' \
        "$build/daemon/meson/bus/system.conf" > "$dir/system.conf"
    mkdir -p "$dir/system.d" ;;
  session)
    # session.conf has no <checkpoint_dir>: records go next to the socket.
    sed -e "s|<listen>[^<]*</listen>|<listen>unix:path=$dir/session_bus_socket</listen>|" \
        -e "s|<standard_session_servicedirs */>|<servicedir>$dir/services</servicedir>|" \
        -e 's|<include ignore_missing="yes">[^<]*</include>||; s|<includedir>[^<]*</includedir>||' \
        -e "s|</busconfig>|<checkpoint_dir>$dir/checkpoint</checkpoint_dir></busconfig>|" \
        "$build/daemon/meson/bus/session.conf" > "$dir/session.conf"
    mkdir -p "$dir/services" ;;
  *) echo "usage: bus-config.sh system|session BUILD_DIR DIR" >&2; exit 2 ;;
esac
echo "unix:path=$dir/${kind}_bus_socket"
