#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The graphical session that test/wayland and scripts/demo-wayland.sh
# checkpoint as one process tree under this shell: headless weston
# (DESIGN.md §6), weston-terminal running terminal-shell.sh, and
# dcp-wayland-counter on top.  Start it with setsid: CRIU restores a tree
# detached only if its root leads its session.
#
# Usage: session.sh COUNTER READY_FILE CHECK [BACKEND]
#   COUNTER     the dcp-wayland-counter binary
#   READY_FILE  written by the counter once its first frame is on screen
#   CHECK       the dcp-wayland-screenshot-check binary
#   BACKEND     headless (the default): weston's headless backend, no input
#               devices; or x11: weston's x11 backend in an Xvfb this shell
#               starts (part of the tree), whose keyboard and pointer
#               (xdotool, through XTEST) are weston's seat.  The X display
#               is written to $XDG_RUNTIME_DIR/x-display.  weston draws
#               into MIT-SHM (SysV) segments shared with Xvfb: start the
#               session in an IPC namespace of its own (unshare --ipc), which
#               CRIU then dumps and restores with the tree.
# Environment: XDG_RUNTIME_DIR (0700, weston's socket goes there),
# WAYLAND_DISPLAY (the socket's name), DBUS_SESSION_BUS_ADDRESS,
# DBUS_SYSTEM_BUS_ADDRESS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
counter=$1
ready=$2
check=$3
backend=${4:-headless}

case $backend in
headless)
  set -- --backend=headless-backend.so ;;
x11)
  # -displayfd: Xvfb picks a free display and writes its number there.
  # Its screen is larger than weston's window (at 0,0): a pointer moved in
  # from outside gives weston the EnterNotify it needs to take the pointer
  # (one that is inside already when weston maps its window may never
  # send it).
  Xvfb -displayfd 5 -screen 0 1344x864x24 -nolisten tcp \
    5>"$XDG_RUNTIME_DIR/x-display.tmp" >"$XDG_RUNTIME_DIR/xvfb.log" 2>&1 &
  i=0
  until [ -s "$XDG_RUNTIME_DIR/x-display.tmp" ]; do
    i=$((i + 1)); [ "$i" -lt 400 ] || { echo "session.sh: Xvfb did not start" >&2; exit 1; }
    sleep 0.05
  done
  DISPLAY=:$(cat "$XDG_RUNTIME_DIR/x-display.tmp")
  export DISPLAY
  echo "$DISPLAY" >"$XDG_RUNTIME_DIR/x-display"
  set -- --backend=x11-backend.so --width=1280 --height=800 ;;
*)
  echo "session.sh: unknown backend $backend (headless or x11)" >&2; exit 2 ;;
esac
weston "$@" --use-pixman --shell=desktop-shell.so --debug \
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
