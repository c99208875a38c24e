#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A graphical session checkpointed and restored: install dependencies,
# build, then with our patched daemon as a private session bus AND a
# private system bus, run headless weston with two clients as one process
# tree — dcp-wayland-counter (ours: a window showing a counter it serves on
# the session bus; it also holds a system-bus connection) and
# weston-terminal (third party) —, and:
#   Increment ×3 → screenshot → dbus-checkpoint checkpoint (weston, both
#   clients, both buses' connections) → a session-bus caller gets
#   NameFrozen → dbus-checkpoint restore → screenshot: identical, and it
#   shows the counter window reading 3 → Increment → the window shows 4 →
#   weston-terminal draws a new line.
# The screenshots are kept in $DCP_DEMO_OUT (default build/demo-wayland).
# Every process it starts is stopped on exit, also when a step fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${DCP_BUILD_DIR:-$top/build}
out=${DCP_DEMO_OUT:-$build/demo-wayland}
"$top/scripts/install-deps.sh" >/dev/null
"$top/scripts/build.sh" >/dev/null
daemon=$build/daemon/meson/bus/dbus-daemon
PATH=$build/checkpoint/cli:$build/test/services:$build/test/wayland:$PATH

name=org.dbuscheckpoint.WaylandCounter
path=/org/dbuscheckpoint/WaylandCounter
interface=org.dbuscheckpoint.WaylandCounter1

# step, say_command, show (fd 3 is the demo's output; what the session
# inherits must be only 0-2, for CRIU)
source "$top/scripts/demo-common.sh"
session_call() { show busctl --address="$DBUS_SESSION_BUS_ADDRESS" call "$name" "$path" "$interface" "$@"; }
# weston-screenshooter (not in the session tree) → $out/$1.png
screenshot() {
  local shot_dir=$dir/shot-$1
  mkdir "$shot_dir"
  (cd "$shot_dir" && weston-screenshooter 3>&-)
  mv "$shot_dir"/*.png "$out/$1.png"
  echo "screenshot: $out/$1.png"
}
# Every process of the tree under $1, root first.
tree_of() {
  local pids=$1 next=$1 p
  while [ -n "$next" ]; do
    local children=''
    for p in $next; do children+=" $(ps -o pid= --ppid "$p" | tr -d ' ' | tr '\n' ' ')"; done
    next=$(echo $children)
    [ -n "$next" ] && pids+=" $next"
  done
  echo "$pids"
}

dir=$(mktemp -d /tmp/dcp-demo-wayland-XXXXXX)
mkdir -p "$out"
system_pid='' session_pid='' root=''
cleanup() {
  set +e
  # Restored, the session is not our child (CRIU's, then init's): kill
  # every process of the tree, wait until they are gone.
  if [ -n "$root" ] && [ "$(cat "/proc/$root/comm" 2>/dev/null)" = sh ]; then
    pids=$(tree_of "$root")
    kill -KILL $pids 2>/dev/null
    for p in $pids; do
      for _ in $(seq 200); do [ -e "/proc/$p" ] || break; sleep 0.05; done
    done
  fi
  for p in $session_pid $system_pid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'echo "demo FAILED at line $LINENO of $0" >&2' ERR
trap 'exit 130' INT TERM

start_bus() {  # kind → pid in $started_pid, address exported
  local address
  address=$("$top/scripts/bus-config.sh" "$1" "$build" "$dir")
  "$daemon" --config-file="$dir/$1.conf" --nofork --nopidfile 2>"$dir/$1-daemon.log" 3>&- &
  started_pid=$!
  for _ in $(seq 100); do [ -S "$dir/${1}_bus_socket" ] && break; sleep 0.05; done
  [ -S "$dir/${1}_bus_socket" ] || { echo "the $1 bus did not start:"; cat "$dir/$1-daemon.log"; exit 1; }
  echo "$1 bus: pid $started_pid, $address"
}

step "our patched daemon as a private system bus and a private session bus"
"$daemon" --version | head -n1
# The counter owns its name on the system bus too (as a service's own file
# in /usr/share/dbus-1/system.d would allow).
mkdir "$dir/system.d"
cat > "$dir/system.d/wayland-counter.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root"><allow own="$name"/></policy>
  <policy context="default"><allow send_destination="$name"/></policy>
</busconfig>
EOF
start_bus system
system_pid=$started_pid
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/system_bus_socket
start_bus session
session_pid=$started_pid
export DBUS_SESSION_BUS_ADDRESS=unix:path=$dir/session_bus_socket
grep -o '<checkpoint_dir>[^<]*</checkpoint_dir>' "$dir/session.conf"

step "the graphical session: headless weston, weston-terminal, dcp-wayland-counter (setsid)"
export XDG_RUNTIME_DIR=$dir/runtime WAYLAND_DISPLAY=dcp-wayland-demo
mkdir -m 0700 "$XDG_RUNTIME_DIR"
show setsid -f sh "$top/test/wayland/session.sh" "$build/test/services/dcp-wayland-counter" \
  "$dir/counter.ready" "$build/test/wayland/dcp-wayland-screenshot-check" \
  </dev/null >"$dir/session.log" 2>&1
for _ in $(seq 600); do [ -e "$dir/counter.ready" ] && break; sleep 0.05; done
[ -e "$dir/counter.ready" ] || { echo "the session did not start:"; cat "$dir/session.log"; exit 1; }
read -r session_name system_name <"$dir/counter.ready"
counter_pid=$(busctl --address="$DBUS_SESSION_BUS_ADDRESS" call org.freedesktop.DBus \
  /org/freedesktop/DBus org.freedesktop.DBus GetConnectionUnixProcessID s "$name" | cut -d' ' -f2)
root=$(ps -o sid= -p "$counter_pid" | tr -d ' ')
echo "session tree (root pid $root):"
ps -o pid=,comm= -p "$(tree_of "$root" | tr ' ' ',')" | sed 's/^/  /'
echo "the counter: $session_name on the session bus, $system_name on the system bus"

step "increment the counter over the session bus (each answer comes once it is on screen)"
session_call Increment
session_call Increment
session_call Increment
sleep 1  # weston-terminal's first lines
screenshot before
show dcp-wayland-screenshot-check "$out/before.png" 3

step "dbus-checkpoint checkpoint: the whole tree, every bus connection of it"
show dbus-checkpoint checkpoint --pid "$root" -D "$dir/images"

step "meanwhile a session-bus caller gets NameFrozen at once"
session_call Get || true

step "dbus-checkpoint restore"
show dbus-checkpoint restore -D "$dir/images"
screenshot after
show dcp-wayland-screenshot-check "$out/after.png" 3 --same-as "$out/before.png"

step "the counter carries on: Increment over the session bus, Get over the system bus"
session_call Increment
screenshot incremented
show dcp-wayland-screenshot-check "$out/incremented.png" 4
show busctl --system call "$name" "$path" "$interface" Get

step "weston-terminal still draws: its shell prints a line on SIGUSR1"
terminal_shell=$(for p in $(tree_of "$root"); do
  if grep -q terminal-shell "/proc/$p/cmdline" 2>/dev/null &&
     [ "$(cat "/proc/$p/comm")" != weston-terminal ]; then echo "$p"; fi
done | head -n1)
show kill -USR1 "$terminal_shell"
sleep 0.5
screenshot terminal
if cmp -s "$out/incremented.png" "$out/terminal.png"; then
  echo "demo FAILED: the screen did not change after the terminal's new line" >&2
  exit 1
fi
echo "the screen changed: weston-terminal drew its new line"

step "done: screenshots in $out (stopping the session and both buses)"
ls "$out"
