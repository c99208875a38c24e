#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's demo command: install dependencies, build, then on a private
# system bus running our patched dbus-daemon (the shipped system.conf, socket
# and state in a temporary directory) checkpoint a running D-Bus service
# with CRIU and restore it into its original bus connection:
#   sample service counts → dbus-checkpoint checkpoint → callers get
#   NameFrozen, a peer sees NameFrozen → dbus-checkpoint restore → the peer
#   sees NameThawed → the counter continues where it stopped.
# Every process it starts is stopped on exit, also when a step fails; its
# temporary directory (images, logs) is removed unless DCP_DEMO_KEEP is set.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${DCP_BUILD_DIR:-$top/build}
"$top/scripts/install-deps.sh" >/dev/null
"$top/scripts/build.sh" >/dev/null
daemon=$build/daemon/meson/bus/dbus-daemon
PATH=$build/checkpoint/cli:$build/test/services:$PATH

service_name=org.dbuscheckpoint.Sample
service_path=/org/dbuscheckpoint/Sample
service_interface=org.dbuscheckpoint.Sample1
service_program=dcp-sample-sdbus

# step, say_command, show
source "$top/scripts/demo-common.sh"
increment() { show busctl --system call "$service_name" "$service_path" "$service_interface" Increment; }
name_owner() {
  busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetNameOwner s "$service_name"
}
# The monitor's lines from line $1 on.
monitor_since() { tail -n +"$1" "$dir/monitor.log" | sed 's/^/  | /'; }

dir=$(mktemp -d /tmp/dcp-demo-XXXXXX)
daemon_pid='' monitor_pid='' service_pid=''
cleanup() {
  set +e
  [ -n "$monitor_pid" ] && kill "$monitor_pid" 2>/dev/null && wait "$monitor_pid" 2>/dev/null
  # The service is not our child once restored (CRIU's, then init's): make
  # sure the pid is still it, kill it, wait for it to be gone.
  if [ -n "$service_pid" ] && [ "$(cat "/proc/$service_pid/comm" 2>/dev/null)" = "${service_program:0:15}" ]; then
    kill -KILL "$service_pid"
    for _ in $(seq 200); do [ -e "/proc/$service_pid" ] || break; sleep 0.05; done
  fi
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "${DCP_DEMO_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'echo "demo FAILED at line $LINENO of $0" >&2' ERR
trap 'exit 130' INT TERM

# The shipped system.conf, with only the socket, user, fork, state directory
# and host includes changed so it runs here without touching the real
# system bus; system.d/ next to it lets root own the sample service's name.
"$top/scripts/bus-config.sh" system "$build" "$dir" >/dev/null
cat > "$dir/system.d/sample.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root"><allow own="$service_name"/></policy>
  <policy context="default"><allow send_destination="$service_name"/></policy>
</busconfig>
EOF

step "a private system bus on the patched daemon"
"$daemon" --version | head -n1
"$daemon" --config-file="$dir/system.conf" --nofork --nopidfile 2>"$dir/daemon.log" 3>&- &
daemon_pid=$!
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/system_bus_socket
for _ in $(seq 100); do [ -S "$dir/system_bus_socket" ] && break; sleep 0.05; done
echo "pid $daemon_pid, DBUS_SYSTEM_BUS_ADDRESS=$DBUS_SYSTEM_BUS_ADDRESS"

step "start the sample service (sd-bus) as a daemon: its own session (setsid), parent gone"
show setsid -f "$service_program" --name "$service_name" --ready-file "$dir/service.ready" \
  </dev/null >"$dir/service.log" 2>&1
for _ in $(seq 200); do [ -e "$dir/service.ready" ] && break; sleep 0.05; done
[ -e "$dir/service.ready" ] || { echo "the service did not start:"; cat "$dir/service.log"; exit 1; }
service_pid=$(busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
  GetConnectionUnixProcessID s "$service_name" | cut -d' ' -f2)
echo "pid $service_pid owns $service_name as $(name_owner)"

step "it counts"
increment
increment
increment

step "a peer watches the Checkpoint signals"
monitor_rule="type='signal',interface='org.freedesktop.DBus.Checkpoint'"
say_command dbus-monitor --system "$monitor_rule"
dbus-monitor --system "$monitor_rule" >"$dir/monitor.log" 2>&1 3>&- &
monitor_pid=$!
sleep 0.5
monitor_lines=$(($(wc -l <"$dir/monitor.log") + 1))

step "dbus-checkpoint checkpoint: freeze its bus connection, dump it with CRIU"
show dbus-checkpoint checkpoint "$service_name" -D "$dir/images"
# CRIU killed it; its parent (init, since setsid -f) reaps it a moment later.
echo "pid $service_pid now: $(awk '{print $3}' "/proc/$service_pid/stat" 2>/dev/null || echo gone) (Z: killed by criu dump, not yet reaped)"

step "meanwhile a caller gets NameFrozen at once"
increment || true

step "the peer saw NameFrozen"
sleep 0.2
monitor_since "$monitor_lines"
monitor_lines=$(($(wc -l <"$dir/monitor.log") + 1))

step "the bus keeps the connection, frozen and detached, with its names"
show dbus-checkpoint list

step "dbus-checkpoint restore: CRIU puts the process back into the same connection"
show dbus-checkpoint restore -D "$dir/images"

step "the peer saw NameThawed"
sleep 0.2
monitor_since "$monitor_lines"

step "the counter continues where it stopped, same pid, same unique name"
counter=$(increment)
echo "$counter"
echo "pid $service_pid owns $service_name as $(name_owner)"
[ "$counter" = "t 4" ] || { echo "demo FAILED: expected t 4 after three increments"; exit 1; }

step "done (stopping the service, the monitor and the bus)"
