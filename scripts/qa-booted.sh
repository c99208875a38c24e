#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The booted QA: our packages on a real Debian bookworm with systemd as PID 1.
#
#   ./scripts/qa-booted.sh [--no-package]   (root; ctest label `qa` runs it)
#
# --no-package: use build/packages/*.deb as they are (to iterate on this
# script without a package rebuild; the packages must exist).
#
# 1. ./scripts/package.sh builds (or reuses) build/packages/*.deb;
# 2. a bookworm root is debootstrapped once (minbase + systemd, dbus,
#    avahi-daemon, accountsservice; cached in /var/cache/dbus-checkpoint/qa) and
#    copied to build/qa/machine for each run;
# 3. it boots with systemd-nspawn (SYSTEMD_SECCOMP=0 --capability=all: CRIU
#    needs both, see DESIGN.md §6) on Debian's own dbus;
# 4. apt installs our packages over Debian's dbus, the container reboots,
#    and inside it, with the services started by systemd:
#    - dbus-daemon --version names dbus-checkpoint, dbus.service is active,
#      busctl and dbus-send work, the package's files are as they must be;
#    - our sd-bus sample service (build/test/services), a unit started by
#      systemd as root and logging to the journal, is checkpointed with
#      CRIU (the unit stops cleanly, its start becomes the restore), callers
#      get NameFrozen, it is restored through systemctl start and answers
#      from the same unique name and pid, with its state, as the unit's
#      main pid; a checkpoint pending across a reboot comes back from
#      /var/lib/dbus/checkpoint and systemd's start of the unit at boot is
#      the restore (no second instance), with the old state;
#    - avahi-daemon (Debian's unit: stdout/stderr and syslog go to the
#      journal) likewise, it still answers an mDNS query sent to its
#      multicast group after the restore, and a line it logs after the
#      restore is in journalctl -u avahi-daemon; with journald stopped its
#      restore is refused up front (journald is not running), and done once
#      it runs;
#    - accounts-daemon (Debian's sandboxed unit: its own network and mount
#      namespaces, seccomp) likewise, dumped from inside its sandbox and
#      restored inside the new one systemd makes for the unit's start: still
#      sandboxed as before, same pid and unique name, it answers;
# 5. apt puts Debian's dbus and dbus-daemon back, the container reboots on
#    them, and powers off cleanly.
# Every step prints its time; any failed check stops the run (exit 1) with
# the output that shows why.  Commands run inside the container through
# nsenter(1) into the namespaces of its PID 1.  The container is powered
# off (or killed) on exit, also on failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${DCP_BUILD_DIR:-$top/build}
qa=$build/qa
# The debootstrapped root is a machine-wide cache (like apt's), made when it
# is missing or its package list changed: a fresh clone's build tree does
# not download 270 MB again.  DCP_QA_CACHE_DIR moves it.
cache=${DCP_QA_CACHE_DIR:-/var/cache/dbus-checkpoint/qa}/bookworm-minbase
machine=$qa/machine
# The debootstrapped root: changing this list rebuilds the cache.
include=systemd,systemd-sysv,dbus,avahi-daemon,accountsservice,procps,man-db
include+=,libbsd0,libnftables1,libprotobuf-c1,libnl-3-200,libnet1,libprotobuf32

build_packages=yes
case ${1:-} in
  --no-package) build_packages=no ;;
  '') ;;
  -h|--help) sed -n '2,/^set -e/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "qa: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

start=$SECONDS
step_start=$SECONDS
step_name=''
step() {
  [ -n "$step_name" ] && printf 'qa:    %s: %d s\n' "$step_name" "$((SECONDS - step_start))"
  step_name=$1 step_start=$SECONDS
  printf '\nqa: == %s\n' "$1"
}
ok() { printf 'qa:    ok: %s\n' "$*"; }
fail() { printf 'qa: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap, systemd-nspawn)"

nspawn_pid='' init_pid='' boot_number=0
cleanup() {
  set +e
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    echo "qa: stopping the container (nspawn pid $nspawn_pid)" >&2
    kill -TERM "$nspawn_pid"   # nspawn powers the container off
    for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$nspawn_pid" 2>/dev/null && kill -KILL "$nspawn_pid"
    wait "$nspawn_pid" 2>/dev/null
  fi
  # A killed nspawn leaves the container's init running (seen: a booted
  # container outlived its QA run by an hour): its PID 1 takes the whole
  # pid namespace with it.
  if [ -n "$init_pid" ] && [ "$(cat "/proc/$init_pid/comm" 2>/dev/null)" = systemd ]; then
    kill -KILL "$init_pid"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# inside CMD...: run CMD in the booted container, as root, with a clean
# environment.
inside() {
  nsenter -t "$init_pid" -m -u -i -n -p -C -r -w \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb "$@" </dev/null
}
# expect DESCRIPTION PATTERN CMD...: CMD succeeds and its output matches
# the extended regex PATTERN.
# (grep reads a here-string: `printf | grep -q` under pipefail fails when grep
# exits before printf has written everything -- SIGPIPE; seen once in a QA run)
last_output=''
expect() {
  local what=$1 pattern=$2 output
  shift 2
  if ! output=$(inside "$@" 2>&1); then
    printf '%s\n' "$output" | tail -n 30 >&2
    fail "$what: '$*' failed"
  fi
  grep -Eq -- "$pattern" <<<"$output" \
    || { printf '%s\n' "$output" | tail -n 30 >&2; fail "$what: '$*' does not print /$pattern/"; }
  last_output=$output
  ok "$what"
}
show_output() { printf '%s\n' "$last_output" | sed 's/^/qa:      | /'; }
# expect_failure DESCRIPTION PATTERN CMD...: CMD fails, printing PATTERN.
expect_failure() {
  local what=$1 pattern=$2 output
  shift 2
  if output=$(inside "$@" 2>&1); then
    printf '%s\n' "$output" >&2
    fail "$what: '$*' succeeded"
  fi
  grep -Eq -- "$pattern" <<<"$output" \
    || { printf '%s\n' "$output" | tail -n 30 >&2; fail "$what: '$*' does not print /$pattern/"; }
  ok "$what"
}

# boot: start the container, wait until systemd reports the boot finished
# (running or degraded), print how long it took.
boot() {
  boot_number=$((boot_number + 1))
  local log=$qa/boot-$boot_number.log t0=$SECONDS
  SYSTEMD_SECCOMP=0 systemd-nspawn -q -D "$machine" -b --register=no --keep-unit \
    --capability=all --console=read-only --resolv-conf=copy-host </dev/null >"$log" 2>&1 &
  nspawn_pid=$!
  init_pid=''
  for _ in $(seq 200); do
    kill -0 "$nspawn_pid" 2>/dev/null || { tail -n 30 "$log" >&2; fail "systemd-nspawn exited at boot"; }
    init_pid=$(ps -o pid=,comm= --ppid "$nspawn_pid" | awk '$2 == "systemd" { print $1; exit }' || true)
    [ -n "$init_pid" ] && break
    sleep 0.1
  done
  [ -n "$init_pid" ] || fail "no systemd under systemd-nspawn after 20 s (see $log)"
  local state=''
  for _ in $(seq 240); do
    state=$(inside systemctl is-system-running 2>/dev/null || true)
    case $state in running|degraded) break ;; esac
    sleep 0.5
  done
  case $state in
    running) ;;
    degraded) inside systemctl --failed --no-legend >&2 || true ;;
    *) tail -n 30 "$log" >&2; fail "boot $boot_number did not finish in 120 s (state '$state')" ;;
  esac
  ok "boot $boot_number: systemd is $state after $((SECONDS - t0)) s; $(inside systemd-analyze 2>/dev/null | head -n1)"
}

# halt reboot|poweroff: stop the container from inside, wait for nspawn.
halt() {
  local how=$1 t0=$SECONDS rc=0
  inside systemctl "$how" >/dev/null 2>&1 || true
  for _ in $(seq 180); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$nspawn_pid" 2>/dev/null && fail "the container did not $how within 90 s"
  wait "$nspawn_pid" || rc=$?
  nspawn_pid=''
  # systemd-nspawn exits with 133 when the container asked for a reboot.
  case $how:$rc in
    poweroff:0|reboot:133) ok "$how: systemd-nspawn exited with $rc after $((SECONDS - t0)) s" ;;
    *) tail -n 30 "$qa/boot-$boot_number.log" >&2; fail "$how: systemd-nspawn exited with $rc" ;;
  esac
}

bus_call() { inside busctl --system call "$@"; }
name_owner() { bus_call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s "$1" | awk '{print $2}'; }
main_pid() { inside systemctl show -P MainPID "$1"; }
# The drop-in that makes a unit's start the restore (persistent: the
# images are under /var/lib).
drop_in() { printf '/etc/systemd/system/%s.service.d/zz-dbus-checkpoint.conf' "$1"; }
# mdns_answers DESCRIPTION: avahi-daemon answers an mDNS query for its host
# name sent to 224.0.0.251:5353, which it receives only through its multicast
# group membership (a restored avahi without it still sends, but is deaf:
# criu-patches/0006).  The container shares this machine's network, so the
# query (scripts/mdns-query) is sent from here; three tries of 2 s (avahi may
# still be probing its name after a boot).
mdns_answers() {
  local fqdn answer='' try
  fqdn=$(bus_call org.freedesktop.Avahi / org.freedesktop.Avahi.Server GetHostNameFqdn | sed -E 's/^s "(.*)"$/\1/')
  [ -n "$fqdn" ] || fail "$1: avahi-daemon has no host name (GetHostNameFqdn)"
  for try in 1 2 3; do
    answer=$("$top/scripts/mdns-query" "$fqdn" 2 2>&1) && break
    answer=''
  done
  [ -n "$answer" ] || fail "$1: no mDNS answer for $fqdn in 3 tries (scripts/mdns-query)"
  ok "$1 ($answer)"
}

# checkpoint_restore UNIT NAME CALL...: checkpoint the service of UNIT (which
# owns NAME) with dbus-checkpoint, check that CALL (busctl call arguments)
# answers before, fails with NameFrozen meanwhile and answers after the
# restore from the same unique name and pid.
checkpoint_restore() {
  local unit=$1 name=$2 images=/var/lib/dcp-qa/$1 owner pid t0
  shift 2
  # (a first call activates a bus-activated service through systemd)
  expect "$unit answers before" '.' busctl --system call "$@"
  expect "$unit was started by systemd" '^active$' systemctl is-active "$unit"
  owner=$(name_owner "$name") pid=$(main_pid "$unit")
  [ -n "$owner" ] && [ "$pid" -gt 1 ] || fail "$unit: no owner of $name or no main pid"
  ok "$name is owned by $owner, $unit's main pid is $pid"
  local restarts
  restarts=$(inside systemctl show -P NRestarts "$unit")
  t0=$SECONDS
  expect "dbus-checkpoint checkpoint $name ($unit)" '^[0-9a-f]{32}$' \
    dbus-checkpoint checkpoint "$name" -D "$images"
  show_output
  inside sh -c "cat $images/dbus-checkpoint.json" >"$qa/$unit.checkpoint.json"
  ok "checkpointed in $((SECONDS - t0)) s (manifest: $qa/$unit.checkpoint.json)"
  grep -q "systemd: $unit.service is inactive" <<<"$last_output" \
    || fail "dbus-checkpoint checkpoint does not say what it did to $unit.service"
  ok "the CLI says what it did to $unit.service"
  expect "the dump stopped $unit cleanly (not failed)" '^inactive dead success$' \
    sh -c "echo \$(systemctl show -P ActiveState $unit) \$(systemctl show -P SubState $unit) \$(systemctl show -P Result $unit)"
  expect "its start is the restore now (drop-in)" 'ExecStart=[+!].*dbus-checkpoint.*restore' \
    cat "$(drop_in "$unit")"
  sleep 2  # Restart= would have fired by now
  expect "systemd did not restart it (NRestarts still $restarts, inactive)" "^$restarts inactive\$" \
    sh -c "echo \$(systemctl show -P NRestarts $unit) \$(systemctl is-active $unit)"
  expect_failure "a caller of $name gets NameFrozen" 'is frozen \(checkpoint [0-9a-f]{32}\)' \
    busctl --system call "$@"
  expect "dbus-checkpoint list shows $name" "$name" dbus-checkpoint list
  t0=$SECONDS
  expect "dbus-checkpoint restore (through systemctl start $unit)" \
    "systemd: $unit.service is active \\(running\\), main pid $pid" dbus-checkpoint restore -D "$images"
  show_output
  ok "restored in $((SECONDS - t0)) s"
  expect "$unit answers after the restore" '.' busctl --system call "$@"
  [ "$(name_owner "$name")" = "$owner" ] || fail "$name is owned by $(name_owner "$name"), not $owner"
  ok "$name still owned by $owner"
  inside test -d "/proc/$pid" || fail "pid $pid is not running after the restore"
  ok "pid $pid runs again ($(inside cat "/proc/$pid/comm"))"
  expect "systemctl status $unit: active, Main PID $pid" "Main PID: $pid " \
    sh -c "systemctl status --no-pager $unit; true"
  expect "systemd: $unit is active (running), MainPID=$pid" "^active running $pid\$" \
    sh -c "echo \$(systemctl show -P ActiveState $unit) \$(systemctl show -P SubState $unit) \$(systemctl show -P MainPID $unit)"
  expect "pid $pid is in $unit's cgroup" "/$unit.service\$" cat "/proc/$pid/cgroup"
  expect "the drop-in is gone and systemd reloaded (NeedDaemonReload=no)" '^gone no$' \
    sh -c "echo \$(test -e $(drop_in "$unit") && echo there || echo gone) \$(systemctl show -P NeedDaemonReload $unit)"
  expect "$unit's own start is back (ExecStart)" "path=" sh -c "systemctl show -P ExecStart $unit | grep -v dbus-checkpoint"
}

step "packages (./scripts/package.sh)"
if [ "$build_packages" = yes ]; then
  "$top/scripts/package.sh"
fi
debs=("$build"/packages/*.deb)
[ -f "${debs[0]}" ] || fail "no packages in $build/packages (run ./scripts/package.sh)"
sample_service=$build/test/services/dcp-sample-sdbus
[ -x "$sample_service" ] || fail "$sample_service is missing (run ./scripts/build.sh)"
ok "${debs[*]##*/}"

step "bookworm root (debootstrap, cached in $cache)"
# One run at a time makes or reads the cache (two QA runs, e.g. from two
# clones, would otherwise debootstrap into the same directory at once).
mkdir -p "$(dirname "$cache")"
exec 8>"$cache.lock"
if ! flock -n 8; then
  echo "  waiting for another QA run that holds $cache.lock" >&2
  flock 8
fi
if [ -f "$cache/.dcp-include" ] && [ "$(cat "$cache/.dcp-include")" = "$include" ]; then
  ok "cached"
else
  . "$top/scripts/debian-archive.sh"
  archive=$(debian_archive_uri)
  [ -n "$archive" ] || fail "no Debian archive in this machine's apt configuration"
  rm -rf "$cache" "$cache.tmp"
  mkdir -p "$qa" "$(dirname "$cache")"
  t0=$SECONDS
  if ! debootstrap --variant=minbase --include="$include" bookworm "$cache.tmp" "$archive" \
      >"$qa/debootstrap.log" 2>&1; then
    tail -n 30 "$qa/debootstrap.log" >&2
    fail "debootstrap failed (log: $qa/debootstrap.log)"
  fi
  echo "$include" >"$cache.tmp/.dcp-include"
  mv "$cache.tmp" "$cache"
  ok "debootstrap in $((SECONDS - t0)) s ($(du -sh "$cache" | cut -f1))"
fi

step "a fresh machine from the cache"
mkdir -p "$qa"
rm -rf "$machine"
cp -a "$cache" "$machine"
exec 8>&-
rm -f "$machine/.dcp-include"
echo dcp-qa >"$machine/etc/hostname"
mkdir -p "$machine/root/dcp-packages"
cp "${debs[@]}" "$machine/root/dcp-packages/"
# Our sd-bus sample service as a systemd unit, started at boot as root;
# its stdout/stderr go to the journal (systemd's default), and it is
# restarted on failure (the checkpoint must not look like one).
install -D -m 0755 "$sample_service" "$machine/opt/dcp-qa/dcp-sample-sdbus"
cat >"$machine/etc/systemd/system/dcp-sample.service" <<'EOF'
[Unit]
Description=dbus-checkpoint QA: sample D-Bus service (sd-bus)
[Service]
Type=dbus
BusName=org.dbuscheckpoint.Sample
ExecStart=/opt/dcp-qa/dcp-sample-sdbus
Restart=on-failure
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$machine/etc/systemd/system/multi-user.target.wants"
ln -s ../dcp-sample.service "$machine/etc/systemd/system/multi-user.target.wants/dcp-sample.service"
cat >"$machine/etc/dbus-1/system.d/org.dbuscheckpoint.Sample.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root"><allow own="org.dbuscheckpoint.Sample"/></policy>
  <policy context="default"><allow send_destination="org.dbuscheckpoint.Sample"/></policy>
</busconfig>
EOF
ok "$machine, $(du -sh "$machine" | cut -f1)"

step "boot on Debian's dbus"
boot
expect "Debian's dbus-daemon" '^D-Bus Message Bus Daemon 1\.14' dbus-daemon --version
expect "dbus.service is active" '^active$' systemctl is-active dbus
expect "avahi-daemon is active" '^active$' systemctl is-active avahi-daemon

step "apt installs our packages over Debian's dbus"
expect "apt-get update" '.' apt-get -q update
expect "apt-get install ${debs[*]##*/}" '.' \
  sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/dcp-packages/*.deb 2>&1'
expect "Debian's dbus and dbus-daemon are gone" '^(un|rc|pn) +dbus-daemon' \
  sh -c 'dpkg -l dbus dbus-daemon 2>/dev/null | grep -E "^[a-z]{2} +dbus(-daemon)? " | sort'
expect "/var/lib/dbus/checkpoint is messagebus's, 0700" '^messagebus:messagebus 700 directory$' \
  stat -c '%U:%G %a %F' /var/lib/dbus/checkpoint
expect "the launch helper is root:messagebus 4754" '^root:messagebus 4754$' \
  stat -c '%U:%G %a' /usr/lib/dbus-1.0/dbus-daemon-launch-helper
expect "man dbus-checkpoint renders, with --criu-timeout" 'criu-timeout' \
  sh -c 'MANWIDTH=80 man dbus-checkpoint 2>&1'
expect "man org.freedesktop.DBus.Checkpoint renders, with <checkpoint_dir>" 'checkpoint_dir' \
  sh -c 'MANWIDTH=80 man 5 org.freedesktop.DBus.Checkpoint 2>&1'
expect "our CRIU dumps and restores here (dcp-criu-probe)" 'works' \
  /usr/lib/dbus-checkpoint/dcp-criu-probe --criu /usr/lib/dbus-checkpoint/criu

step "reboot onto our dbus-daemon"
halt reboot
boot

step "the system bus is ours"
expect "dbus-daemon --version names dbus-checkpoint" 'dbus-checkpoint' dbus-daemon --version
expect "systemctl is-active dbus" '^active$' systemctl is-active dbus
expect "the bus's pid 1 view: dbus.service runs /usr/bin/dbus-daemon" '/usr/bin/dbus-daemon' \
  sh -c 'cat /proc/$(systemctl show -P MainPID dbus)/cmdline | tr "\0" " "'
expect "dbus-send --system ListActivatableNames" 'org.freedesktop.Accounts' \
  dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.ListActivatableNames
expect "busctl lists the services" 'org.freedesktop.Avahi' busctl --system list --no-pager
expect "the bus offers org.freedesktop.DBus.Checkpoint" 'org.freedesktop.DBus.Checkpoint' \
  busctl --system introspect org.freedesktop.DBus /org/freedesktop/DBus --no-pager
expect "root may call it (ListFrozen)" '^a\(ssasa\{sv\}\) 0$' \
  busctl --system call org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.Checkpoint ListFrozen
expect "another user may not (AccessDenied)" 'AccessDenied|Access denied' \
  sh -c 'setpriv --reuid=nobody --regid=nogroup --clear-groups busctl --system call \
    org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Checkpoint ListFrozen 2>&1 || true'
expect "dbus-checkpoint --version" '^dbus-checkpoint ' dbus-checkpoint --version
expect "avahi-daemon was started by systemd at boot" '^active$' systemctl is-active avahi-daemon

step "checkpoint and restore dcp-sample.service (sd-bus, root), keeping its state"
sample=(org.dbuscheckpoint.Sample /org/dbuscheckpoint/Sample org.dbuscheckpoint.Sample1)
for _ in 1 2 3; do bus_call "${sample[@]}" Increment >/dev/null; done
expect "the sample service counted to 3" '^t 3$' busctl --system call "${sample[@]}" Get
checkpoint_restore dcp-sample org.dbuscheckpoint.Sample "${sample[@]}" Get
expect "its state survived: Get is still 3" '^t 3$' busctl --system call "${sample[@]}" Get
expect "and it counts on: Increment gives 4" '^t 4$' busctl --system call "${sample[@]}" Increment
expect "journald took the restored stdout stream for the unit (streams/ file, UNIT=)" \
  'UNIT=dcp-sample.service' sh -c 'cat /run/systemd/journal/streams/* 2>/dev/null'

step "a checkpoint pending across a reboot: systemd's start of the unit at boot is the restore"
# CRIU gives the process its old pid, which must be free when the unit
# starts at boot: a pid from early in this boot would be another early
# process's in the next.  So the service is restarted first with a pid
# past what the next boot uses (~ a few hundred), and given a state.
expect "a pid counter past the next boot's early pids" '.' \
  sh -c 'i=0; while [ $i -lt 1500 ]; do /bin/true; i=$((i + 1)); done; echo done'
expect "systemctl restart dcp-sample" '.' sh -c 'systemctl restart dcp-sample && echo restarted'
for _ in 1 2; do bus_call "${sample[@]}" Increment >/dev/null; done
expect "the restarted sample counted to 2" '^t 2$' busctl --system call "${sample[@]}" Get
sample_owner=$(name_owner org.dbuscheckpoint.Sample) sample_pid=$(main_pid dcp-sample)
expect "dbus-checkpoint checkpoint org.dbuscheckpoint.Sample (pid $sample_pid)" '^[0-9a-f]{32}$' \
  dbus-checkpoint checkpoint org.dbuscheckpoint.Sample -D /var/lib/dcp-qa/dcp-sample-reboot
pending_id=$(printf '%s\n' "$last_output" | grep -E '^[0-9a-f]{32}$')
expect "its record is in /var/lib/dbus/checkpoint" "$pending_id" ls /var/lib/dbus/checkpoint
expect "the unit's start is the restore, also after a reboot (drop-in in /etc)" 'restore' \
  cat "$(drop_in dcp-sample)"
halt reboot
boot
expect "at boot systemd's start of dcp-sample.service restored it: active, MainPID=$sample_pid" \
  "^active running $sample_pid\$" \
  sh -c "echo \$(systemctl show -P ActiveState dcp-sample) \$(systemctl show -P SubState dcp-sample) \$(systemctl show -P MainPID dcp-sample)"
expect "the restore ran as the unit's start (its journal)" 'restored by criu' \
  journalctl -b -u dcp-sample --no-pager -o cat
expect "no second instance was started at boot (no fresh start line in this boot's journal)" '^0$' \
  sh -c "journalctl -b -u dcp-sample --no-pager -o cat | grep -c 'owns org.dbuscheckpoint.Sample'; true"
[ "$(name_owner org.dbuscheckpoint.Sample)" = "$sample_owner" ] \
  || fail "org.dbuscheckpoint.Sample is owned by $(name_owner org.dbuscheckpoint.Sample), not $sample_owner"
ok "org.dbuscheckpoint.Sample is still owned by $sample_owner (the bus brought it back from /var/lib/dbus/checkpoint)"
expect "its old state: Get is 2" '^t 2$' busctl --system call "${sample[@]}" Get
expect "nothing is frozen any more" '^a\(ssasa\{sv\}\) 0$' \
  busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Checkpoint ListFrozen
printf 'qa:    systemd at boot: %s\n' "$(inside sh -c 'journalctl -b _PID=1 --no-pager -o cat | grep -Ei "reload|dcp-sample" | tail -n 8' | tr '\n' '|')"
expect "the drop-in is gone, systemd reloaded (NeedDaemonReload=no)" '^gone no$' \
  sh -c "echo \$(test -e $(drop_in dcp-sample) && echo there || echo gone) \$(systemctl show -P NeedDaemonReload dcp-sample)"

step "dbus-checkpoint discard gives a unit its own start back"
expect "dbus-checkpoint checkpoint org.dbuscheckpoint.Sample" '^[0-9a-f]{32}$' \
  dbus-checkpoint checkpoint org.dbuscheckpoint.Sample -D /var/lib/dcp-qa/dcp-sample-discard
pending_id=$(printf '%s\n' "$last_output" | grep -E '^[0-9a-f]{32}$')
expect "dbus-checkpoint discard $pending_id" "systemd: dcp-sample.service has its own start back" \
  sh -c "dbus-checkpoint discard $pending_id 2>&1"
show_output
expect "the drop-in is gone" '^gone$' sh -c "test -e $(drop_in dcp-sample) && echo there || echo gone"
expect "systemctl start dcp-sample starts it afresh" '^active$' \
  sh -c 'systemctl start dcp-sample && systemctl is-active dcp-sample'
expect "a fresh counter: Get is 0" '^t 0$' busctl --system call "${sample[@]}" Get

avahi_call=(org.freedesktop.Avahi / org.freedesktop.Avahi.Server GetVersionString)
# avahi-daemon runs as user avahi (our CRIU reads its rlimits from
# /proc/PID/limits where root lacks CAP_SYS_RESOURCE, criu-patches/0002),
# chrooted in /etc/avahi (criu-patches/0003), with Debian's unit: its
# stdout/stderr are a journal stream, and with -s it logs through
# syslog(3), a datagram socket to journald; our plugin reopens both.
step "avahi-daemon (Debian's unit, logging to the journal): checkpoint and restore"
mdns_answers "avahi-daemon answers an mDNS query (multicast) before the checkpoint"
checkpoint_restore avahi-daemon org.freedesktop.Avahi "${avahi_call[@]}"
mdns_answers "the restored avahi-daemon still receives mDNS multicast: it answers a query"
avahi_pid=$(main_pid avahi-daemon)
since=$(inside date +%s)
inside kill -HUP "$avahi_pid"
for _ in $(seq 20); do
  inside sh -c "journalctl -u avahi-daemon --since @$since --no-pager -o cat | grep -q SIGHUP" && break
  sleep 0.25
done
expect "a line avahi-daemon logs after the restore is in journalctl -u avahi-daemon" 'SIGHUP' \
  journalctl -u avahi-daemon --since "@$since" --no-pager -o cat
show_output
expect "avahi-daemon still answers" '.' busctl --system call "${avahi_call[@]}"

step "a restore that needs journald where it does not run: refused up front, then done with it"
journald_units='systemd-journald.socket systemd-journald-dev-log.socket systemd-journald-audit.socket systemd-journald.service'
expect "dbus-checkpoint checkpoint org.freedesktop.Avahi" '^[0-9a-f]{32}$' \
  dbus-checkpoint checkpoint org.freedesktop.Avahi -D /var/lib/dcp-qa/avahi-journald
expect "systemctl stop journald (its sockets too)" '^inactive' \
  sh -c "systemctl stop $journald_units; systemctl is-active systemd-journald || true"
expect_failure "dbus-checkpoint restore says journald is not running" \
  'systemd-journald is not running here' dbus-checkpoint restore -D /var/lib/dcp-qa/avahi-journald
expect "the process was not restored: avahi-daemon.service inactive, the checkpoint pending" \
  '^inactive 1$' sh -c "echo \$(systemctl is-active avahi-daemon) \$(dbus-checkpoint list --json | grep -c org.freedesktop.Avahi)"
expect "systemctl start journald" '^active$' \
  sh -c "systemctl start $journald_units; systemctl is-active systemd-journald"
expect "dbus-checkpoint restore, journald running again" "avahi-daemon.service is active \\(running\\), main pid $avahi_pid" \
  dbus-checkpoint restore -D /var/lib/dcp-qa/avahi-journald
expect "avahi-daemon answers" '.' busctl --system call "${avahi_call[@]}"

# accounts-daemon runs sandboxed (Debian's unit: ProtectSystem=strict,
# PrivateDevices=, PrivateNetwork=, SystemCallFilter=, …: its own mount and
# network namespaces).  CRIU cannot restore such a mount namespace, so
# dbus-checkpoint runs criu *inside* the sandbox (setns into the service's
# namespaces: none is dumped), and the unit's start restores it inside the
# sandbox systemd makes for that start (the drop-in's ExecStart=!, with what
# criu cannot run under lifted for it): checkpoint/cli/unit_sandbox.hpp.
step "accounts-daemon (a sandboxed unit): dumped from inside its sandbox, restored into a new one"
accounts_call=(org.freedesktop.Accounts /org/freedesktop/Accounts org.freedesktop.DBus.Properties
  Get ss org.freedesktop.Accounts DaemonVersion)
expect "accounts-daemon answers (activated by the bus through systemd if need be)" '.' \
  busctl --system call "${accounts_call[@]}"
# sandboxed: "net mnt" of its own (not PID 1's); seccomp on; / read-only
sandbox_of() {
  inside sh -c "p=$1; for ns in net mnt; do [ \$(readlink /proc/\$p/ns/\$ns) = \$(readlink /proc/1/ns/\$ns) ] || printf '%s ' \$ns; done;
    grep -E '^Seccomp:' /proc/\$p/status | tr -d '\t'; nsenter -t \$p -m touch /usr/dcp-qa-write 2>&1 | grep -o 'Read-only file system'"
}
accounts_pid=$(main_pid accounts-daemon)
sandbox_before=$(sandbox_of "$accounts_pid")
[ "$sandbox_before" = "net mnt Seccomp:2
Read-only file system" ] || fail "accounts-daemon (pid $accounts_pid) is not sandboxed as expected: '$sandbox_before'"
ok "accounts-daemon (pid $accounts_pid) is sandboxed: own net and mnt namespaces, seccomp on, /usr read-only"
checkpoint_restore accounts-daemon org.freedesktop.Accounts "${accounts_call[@]}"
grep -q '"sandbox"' "$qa/accounts-daemon.checkpoint.json" \
  || fail "the manifest of accounts-daemon's checkpoint does not record its sandbox"
ok "dumped from inside its sandbox (manifest: $(tr -d ' \n' <"$qa/accounts-daemon.checkpoint.json" | grep -o '"sandbox":{[^}]*}'))"
sandbox_after=$(sandbox_of "$accounts_pid")
[ "$sandbox_after" = "$sandbox_before" ] \
  || fail "the restored accounts-daemon is not sandboxed as before: '$sandbox_after'"
ok "the restored accounts-daemon is sandboxed as before: own net and mnt namespaces, seccomp on, /usr read-only"
expect "accounts-daemon lists its users (ListCachedUsers)" '^ao ' \
  busctl --system call org.freedesktop.Accounts /org/freedesktop/Accounts org.freedesktop.Accounts ListCachedUsers

step "apt gives Debian's dbus back"
expect "apt-get install dbus dbus-daemon (removes ours)" '.' \
  sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q dbus dbus-daemon 2>&1'
expect "dbus-checkpoint-daemon is removed" '^(rc|un) +dbus-checkpoint-daemon' \
  sh -c 'dpkg -l dbus-checkpoint-daemon | grep dbus-checkpoint-daemon'
halt reboot
boot
expect "Debian's dbus-daemon again" '^D-Bus Message Bus Daemon 1\.14' dbus-daemon --version
expect "systemctl is-active dbus" '^active$' systemctl is-active dbus
expect "busctl works" 'org.freedesktop.Avahi' busctl --system list --no-pager

step "power off"
halt poweroff
printf 'qa:    %s: %d s\n' "$step_name" "$((SECONDS - step_start))"
printf 'qa: all checks passed in %d s\n' "$((SECONDS - start))"
