# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the demos: how they show what they do.
# shellcheck shell=bash
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Shows a command on the demo's own output (fd 3, whatever the command's
# redirections); show also runs it, without fd 3 (CRIU would find it open
# in the service, and restore refuses a file that grew meanwhile).
exec 3>&1
say_command() {
  local shown='$' argument
  for argument in "$@"; do
    case $argument in *[!A-Za-z0-9_./:=,-]*) argument="\"$argument\"" ;; esac
    shown+=" $argument"
  done
  printf '%s\n' "$shown" >&3
}
show() { say_command "$@"; "$@" 3>&-; }
