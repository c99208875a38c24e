#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# check_man_help.sh CLI MAN_PAGE: dbus-checkpoint's --help texts and its man
# page agree: the same commands, the same options (each way), the exit
# statuses, --criu-timeout's range and default, and the version.
set -euo pipefail
cli=$1 page=$2
failures=0
problem() { echo "check_man_help: $*" >&2; failures=$((failures + 1)); }

# The page as man renders it, wide enough that no option is hyphenated.
man_text=$(MANWIDTH=400 man -l "$page" 2>/dev/null | col -b)
[ -n "$man_text" ] || { echo "check_man_help: man -l $page printed nothing" >&2; exit 1; }
section() {  # the rendered text of section $1 (up to the next heading)
  printf '%s\n' "$man_text" | awk -v s="$1" '/^[A-Z][A-Z ]*$/ { on = ($0 == s); next } on'
}

help_text=$("$cli" --help)
commands=$(printf '%s\n' "$help_text" | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }')
[ "$(printf '%s\n' "$commands" | wc -l)" -ge 7 ] || problem "--help lists fewer than 7 commands: $commands"
all_help=$help_text
for command in $commands; do
  all_help+=$'\n'$("$cli" "$command" --help)
  grep -Eq "^ {7}$command( |$)" <<<"$(section COMMANDS)" || problem "command '$command' of --help is not in the man page's COMMANDS"
done
for command in $(section COMMANDS | sed -n 's/^ \{7\}\([a-z]\+\)\( .*\)\?$/\1/p'); do
  grep -qx "$command" <<<"$commands" || problem "the man page's command '$command' is not in --help"
done

options_of() { grep -oE -- '(^|[ ,[(|])--?[a-zA-Z][a-zA-Z-]*' | sed 's/^[^-]*//' | sort -u; }
# (criu command lines and "criu -X" hold criu's options, not ours)
help_options=$(printf '%s\n' "$all_help" | grep -Ev '^ +criu ' | sed 's/criu -[A-Za-z]*//g' | options_of)
man_options=$(section OPTIONS | grep -E '^ {7}-' | options_of)
for option in $help_options; do
  grep -qx -- "$option" <<<"$man_options" || problem "option $option of --help is not in the man page's OPTIONS"
done
for option in $man_options; do
  grep -qx -- "$option" <<<"$help_options" || problem "option $option of the man page is not in any --help"
done

for status in 0 1 2; do
  grep -Eq "^ {7}$status( |$)" <<<"$(section 'EXIT STATUS')" || problem "exit status $status is not in the man page"
  grep -q "$status" <<<"$help_text" || problem "exit status $status is not in --help"
done
timeout_help=$("$cli" checkpoint --help | grep -A3 -- '--criu-timeout' | tr -s ' \n' ' ' || true)
timeout_man=$(section OPTIONS | grep -A6 -- '--criu-timeout SECONDS' | tr -s ' \n' ' ' || true)
for fact in '1-3600|1–3600' 'default 120'; do
  grep -Eq -- "$fact" <<<"$timeout_help" || problem "checkpoint --help does not say '$fact' of --criu-timeout"
  grep -Eq -- "$fact" <<<"$timeout_man" || problem "the man page does not say '$fact' of --criu-timeout"
done

version=$("$cli" --version | awk '{ print $2 }')
grep -q "dbus-checkpoint $version" <<<"$(head -n1 "$page")" \
  || problem "the man page's .TH does not name dbus-checkpoint $version"

if [ "$failures" -gt 0 ]; then
  echo "check_man_help: $failures disagreements between --help and $page" >&2
  exit 1
fi
echo "check_man_help: --help and $page agree ($(wc -w <<<"$commands") commands, $(wc -w <<<"$help_options") options)"
