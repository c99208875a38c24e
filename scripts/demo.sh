#!/usr/bin/env bash
# The README's demo command: install dependencies, build, then start the
# patched dbus-daemon as a private system bus (real system policy, socket in
# a temporary directory) and talk to it with dbus-send and busctl.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${DCP_BUILD_DIR:-$top/build}
"$top/scripts/install-deps.sh" >/dev/null
"$top/scripts/build.sh" >/dev/null
daemon=$build/daemon/meson/bus/dbus-daemon

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

dir=$(mktemp -d /tmp/dcp-demo-XXXXXX)
trap 'kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; rm -rf "$dir"' EXIT
# The shipped system.conf, with only the socket, user, fork and host
# includes changed so it runs here without touching the real system bus.
sed -e "s|<listen>[^<]*</listen>|<listen>unix:path=$dir/system_bus_socket</listen>|" \
    -e 's|<user>[^<]*</user>||; s|<fork/>||; s|<pidfile>[^<]*</pidfile>||; s|<syslog/>||' \
    -e 's|<include ignore_missing="yes">/etc/[^<]*</include>||; s|<standard_system_servicedirs/>||' \
    -e 's|<includedir>/etc/[^<]*</includedir>||' \
    "$build/daemon/meson/bus/system.conf" > "$dir/system.conf"

step "dbus-daemon --version"
"$daemon" --version | head -n1

step "start a private system bus"
"$daemon" --config-file="$dir/system.conf" --nofork --nopidfile 2>"$dir/daemon.log" &
daemon_pid=$!
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/system_bus_socket
for _ in $(seq 100); do [ -S "$dir/system_bus_socket" ] && break; sleep 0.05; done
echo "pid $daemon_pid, DBUS_SYSTEM_BUS_ADDRESS=$DBUS_SYSTEM_BUS_ADDRESS"

step "dbus-send --system ... org.freedesktop.DBus.ListNames"
dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.ListNames

step "busctl --system list"
busctl --system --no-pager list

step "busctl --system introspect org.freedesktop.DBus /org/freedesktop/DBus"
busctl --system --no-pager introspect org.freedesktop.DBus /org/freedesktop/DBus | head -n 30

step "stop"
kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true
echo "demo done"
