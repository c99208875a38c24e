#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The graphical session that test/wayland and scripts/demo-wayland.sh
# checkpoint as one process tree under this shell: headless weston
# (DESIGN.md §6), weston-terminal running terminal-shell.sh, and
# dcp-wayland-counter on top.  Start it with setsid: CRIU restores a tree
# detached only if its root leads its session.
#
# Usage: session.sh COUNTER READY_FILE CHECK
#   COUNTER     the dcp-wayland-counter binary
#   READY_FILE  written by the counter once its first frame is on screen
#   CHECK       the dcp-wayland-screenshot-check binary
# Environment: XDG_RUNTIME_DIR (0700, weston's socket goes there),
# WAYLAND_DISPLAY (the socket's name), DBUS_SESSION_BUS_ADDRESS,
# DBUS_SYSTEM_BUS_ADDRESS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
counter=$1
ready=$2
check=$3

weston --backend=headless-backend.so --use-pixman --shell=desktop-shell.so --debug \
  --socket="$WAYLAND_DISPLAY" --config="$here/weston.ini" --log="$XDG_RUNTIME_DIR/weston.log" &
i=0
until [ -S "$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY" ]; do
  i=$((i + 1)); [ "$i" -lt 400 ] || { echo "session.sh: weston did not start" >&2; exit 1; }
  sleep 0.05
done

# The third-party client first, and ours only once the terminal's window is
# on screen (the desktop alone is one colour), so that ours is mapped, and
# stacked, on top.
weston-terminal --shell="$here/terminal-shell.sh" &
shots=$XDG_RUNTIME_DIR/session-shots
i=0
while :; do
  i=$((i + 1)); [ "$i" -lt 400 ] || { echo "session.sh: weston-terminal did not show" >&2; exit 1; }
  mkdir -p "$shots/$i"
  (cd "$shots/$i" && weston-screenshooter)
  [ "$("$check" --colors "$shots/$i/"*.png)" -lt 16 ] || break
  sleep 0.05
done
rm -rf "$shots"

"$counter" --ready-file "$ready" &
wait
