#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The "shell" weston-terminal runs in the checkpointed session: text to
# show, one more line per SIGUSR1 (proof the terminal still draws after
# restore), and every line typed into the terminal appended to
# $XDG_RUNTIME_DIR/typed-lines (proof it still takes keyboard input: keys
# from the X server under weston's x11 backend, through weston, the
# terminal and its pty, to here).
printf '\033[1;33mdbus-checkpoint\033[0m: weston-terminal inside a checkpointed session\n'
printf 'pid %s, on %s\n' "$$" "$WAYLAND_DISPLAY"
typed=$XDG_RUNTIME_DIR/typed-lines
n=0
trap 'n=$((n + 1)); printf "\033[1;32mSIGUSR1 #%d\033[0m: weston-terminal still draws\n" "$n"' USR1
while :; do
  signals=$n
  if IFS= read -r line; then
    printf '%s\n' "$line" >>"$typed"
  elif [ "$n" = "$signals" ]; then
    exit 0  # end of input, not a signal: the terminal is gone
  fi
done
