#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The "shell" weston-terminal runs in the checkpointed session: text to
# show, and one more line per SIGUSR1 (proof the terminal still draws after
# restore).
printf '\033[1;33mdbus-checkpoint\033[0m: weston-terminal inside a checkpointed session\n'
printf 'pid %s, on %s\n' "$$" "$WAYLAND_DISPLAY"
n=0
trap 'n=$((n + 1)); printf "\033[1;32mSIGUSR1 #%d\033[0m: weston-terminal still draws\n" "$n"' USR1
while :; do
  sleep 3600 &
  wait $! || kill $! 2>/dev/null || true
done
