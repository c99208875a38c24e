#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Turn the benchmark programs' JSON lines into report.md and bench.png.

Usage: report.py OUT_DIR THROUGHPUT.jsonl CHECKPOINT.jsonl RESTORE.jsonl [WAYLAND.jsonl]

Each input line is one figure: group, what, subject, unit, samples, median,
min, max; or a note on a group: group, note (see
test/bench/bench_support.hpp).  Missing files are skipped.  Runs with Debian's
/usr/bin/python3 and python3-matplotlib.
"""
import datetime
import json
import os
import platform
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

DAEMONS = ["ours", "stock", "broker"]
PEER_COUNTS = ["1 peers", "100 peers", "1000 peers"]  # subjects, as the program names them
PEER_HEADERS = ["1 idle peer", "100 idle peers", "1,000 idle peers"]


def read_figures(paths):
    """The figures and the notes of the JSON lines files."""
    lines = []
    for path in paths:
        with open(path) as f:
            lines += [json.loads(line) for line in f if line.strip()]
    return ([x for x in lines if "note" not in x], [x for x in lines if "note" in x])


def select(figures, group):
    return [f for f in figures if f["group"] == group]


def distinct(figures, key):
    """The values of figures' `key` ("what", "subject"), in first-seen order."""
    return list(dict.fromkeys(f[key] for f in figures))


def ordered_whats(figures):
    return distinct(figures, "what")


def find(figures, what, subject):
    for f in figures:
        if f["what"] == what and f["subject"] == subject:
            return f
    return None


def number(value):
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def cell(figure):
    if figure is None:
        return "–"
    return f"{number(figure['median'])} ({number(figure['min'])}–{number(figure['max'])})"


def markdown_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def throughput_section(figures):
    rates, ratios = select(figures, "throughput"), select(figures, "throughput-ratio")
    if not rates:
        return "No throughput figures.\n"
    daemons = [d for d in DAEMONS if any(f["subject"] == d for f in rates)]
    ratio_subjects = [f"{d}/stock" for d in daemons if d != "stock"]
    header = ["measure (unit)"] + daemons + ratio_subjects
    rows = []
    for what in ordered_whats(rates):
        unit = find(rates, what, daemons[0])["unit"]
        rows.append([f"{what} ({unit})"] + [cell(find(rates, what, d)) for d in daemons]
                    + [cell(find(ratios, what, s)) for s in ratio_subjects])
    missing = "" if "broker" in daemons else (
        "\ndbus-broker was not measured (see the program's output for why).\n")
    return (markdown_table(header, rows) + "\n\nMedian (min–max) of the runs; ratios are "
            "taken run by run (both daemons measured back to back), then summarised. "
            "Goal: ours/stock ≥ 0.98.\n" + missing)


def latency_section(figures):
    latencies = select(figures, "latency")
    if not latencies:
        return "No latency figures.\n"
    header = ["ms, median (min–max)"] + PEER_HEADERS
    rows = [[what] + [cell(find(latencies, what, p)) for p in PEER_COUNTS]
            for what in ordered_whats(latencies)]
    return markdown_table(header, rows) + "\n"


def memory_section(figures):
    memory = select(figures, "memory")
    if not memory:
        return "No memory figures.\n"
    rows = [[f["what"], f["subject"], cell(f), f["unit"]] for f in memory]
    return (markdown_table(["daemon VmRSS delta", "connections", "median (min–max)", "unit"],
                           rows)
            + "\n\nThe daemon's VmRSS after freezing N connections that each match the "
              "signal, minus before, divided by N; then after 1,000 such signals were queued "
              "for each.\n")


def load_section(figures):
    rows = [[f["what"], f["subject"], cell(f), f["unit"]]
            for f in select(figures, "load") + select(figures, "flood")]
    if not rows:
        return "No load figures.\n"
    return (markdown_table(["figure", "load", "median (min–max)", "unit"], rows)
            + "\n\n1,000 connections each call a frozen name at once (every one must be answered, "
              "with NameFrozen); then a process running as `nobody` sends 20,000 NO_REPLY calls "
              "to it (with an fd each, then without), while another peer's GetId round trip is "
              "timed every 5 ms; the daemon's VmRSS before and after.\n")


def verdict(ratio):
    if ratio is None:
        return "–"
    median = ratio["median"]
    if median >= 1:
        return f"restore wins, {number(median)}× as fast"
    return f"cold start wins: restore takes {number(1 / median)}× as long"


def notes_of(notes, group):
    return [f"Note: {n['note']}\n" for n in notes if n["group"] == group]


def restore_section(figures, notes):
    restore, steps = select(figures, "restore"), select(figures, "restore-steps")
    lines = notes_of(notes, "restore")
    if not restore:
        return "No restore figures.\n" + "\n".join(lines)
    scenarios = distinct(restore, "subject")
    header = ["median (min–max)"] + scenarios
    rows = [[f"{what} ({find(restore, what, scenarios[0])['unit']})"]
            + [cell(find(restore, what, s)) for s in scenarios] for what in ordered_whats(restore)]
    rows.append(["verdict"] + [verdict(find(restore, "cold / restore", s)) for s in scenarios])
    step_rows = [[f"{what} ({next(f['unit'] for f in steps if f['what'] == what)})"]
                 + [cell(find(steps, what, s)) for s in scenarios] for what in ordered_whats(steps)]
    phases = select(figures, "restore-phases")
    phase_rows = [[what] + [cell(find(phases, what, s)) for s in scenarios]
                  for what in ordered_whats(phases)]
    phase_table = ("\nWhere `criu restore -d -v4` spends its time (ms), from its log's timestamps "
                   "(`checkpoint/criu-probe/restore_phases`; the same breakdown "
                   "`dbus-checkpoint restore` prints):\n\n"
                   + markdown_table(["ms, median (min–max)"] + scenarios, phase_rows) + "\n"
                   if phase_rows else "")
    split = select(figures, "restore-plugin")
    columns = distinct(split, "subject")
    split_table = ("\nThe plugin split (init 0 ms, the same runs): the plugin in one piece, as "
                   "before, vs the plugin CRIU loads now and its bus module, loaded only when "
                   "needed; the ratio is taken run by run:\n\n"
                   + markdown_table(["median (min–max)"] + columns,
                                    [[f"{what} ({find(split, what, columns[0])['unit']})"]
                                     + [cell(find(split, what, c)) for c in columns]
                                     for what in ordered_whats(split)]) + "\n"
                   if split else "")
    exec_figures = select(figures, "criu-exec")
    exec_table = ("\nWhat a criu run costs outside its log (exec, the dynamic linker, exit): "
                  "`criu --version` against `/bin/true`, interleaved:\n\n"
                  + markdown_table(["median (min–max)"] + distinct(exec_figures, "what"),
                                   [[subject] + [cell(find(exec_figures, what, subject))
                                                 for what in distinct(exec_figures, "what")]
                                    for subject in distinct(exec_figures, "subject")]) + "\n"
                  if exec_figures else "")
    return (markdown_table(header, rows) + "\n\n" + "\n".join(lines) + "\nThe steps:\n\n"
            + markdown_table(["median (min–max)"] + scenarios, step_rows) + "\n" + phase_table
            + split_table + exec_table)


def wayland_section(figures):
    wayland = select(figures, "wayland")
    if not wayland:
        return "No graphical-session figures.\n"
    subjects = distinct(wayland, "subject")
    rows = [[f"{what} ({find(wayland, what, subjects[0])['unit']})"]
            + [cell(find(wayland, what, s)) for s in subjects] for what in ordered_whats(wayland)]
    return (markdown_table(["median (min–max)"] + subjects, rows) + "\n\nverdict: "
            + verdict(find(wayland, "cold / restore", subjects[0])) + "\n")


def services_section(figures, notes):
    services, steps = select(figures, "services"), select(figures, "services-steps")
    lines = notes_of(notes, "services")
    if not services:
        return "No system-service figures.\n" + "\n".join(lines)
    subjects = distinct(services, "subject")
    rows = [[s] + [cell(find(services, what, s)) for what in ordered_whats(services)]
            + [verdict(find(services, "cold / restore", s))] for s in subjects]
    header = (["service, median (min–max)"]
              + [f"{w} ({find(services, w, subjects[0])['unit']})" for w in ordered_whats(services)]
              + ["verdict"])
    step_rows = [[s] + [cell(find(steps, what, s)) for what in ordered_whats(steps)] for s in subjects]
    step_header = (["service, median (min–max)"]
                   + [f"{w} ({next(f['unit'] for f in steps if f['what'] == w)})"
                      for w in ordered_whats(steps)])
    return (markdown_table(header, rows) + "\n\n" + "\n".join(lines) + "\nThe steps:\n\n"
            + markdown_table(step_header, step_rows) + "\n")


def migrate_section(figures, notes):
    migrate, steps = select(figures, "migrate"), select(figures, "migrate-steps")
    steps = steps + select(figures, "migrate-downtime")
    lines = notes_of(notes, "migrate")
    if not migrate:
        return "No migration figures.\n" + "\n".join(lines)
    rows = [[f"{f['what']}, {f['subject']} ({f['unit']})", cell(f)] for f in migrate + steps]
    return markdown_table(["figure", "median (min–max)"], rows) + "\n\n" + "\n".join(lines)


def criu_rpc_section(figures, notes):
    rpc = select(figures, "criu-rpc")
    lines = notes_of(notes, "criu-rpc")
    if not rpc:
        return "No CRIU RPC figures.\n" + "\n".join(lines)
    rows = [[f"{f['what']} ({f['unit']})", cell(f)] for f in rpc]
    return markdown_table(["figure", "median (min–max)"], rows) + "\n\n" + "\n".join(lines)


def plot_restore(figures, axes):
    restore = select(figures, "restore")
    scenarios = distinct(restore, "subject")
    series = [("cold start -> first answered Get", "cold start"),
              ("restore -> first answered Get", "restore")]
    for i, (what, label) in enumerate(series):
        ys = [find(restore, what, s) for s in scenarios]
        axes.bar([j + i * 0.4 for j in range(len(scenarios))],
                 [y["median"] if y else 0 for y in ys], 0.4, label=label)
    axes.set_yscale("log")
    axes.set_xticks([j + 0.2 for j in range(len(scenarios))])
    axes.set_xticklabels([s.replace(" lazy", "\nlazy pages") for s in scenarios], fontsize=8)
    axes.set_ylabel("ms to the first answered Get (median)")
    axes.set_title("Cold start vs CRIU restore (sd-bus sample service)")
    axes.legend()


def plot(figures, path):
    rates, ratios = select(figures, "throughput"), select(figures, "throughput-ratio")
    latencies = select(figures, "latency")
    fig, axes = plt.subplots(1, 3, figsize=(18, 4.5))
    left, right = axes[0], axes[1]
    plot_restore(figures, axes[2])
    whats = ordered_whats(rates)
    daemons = [d for d in DAEMONS if any(f["subject"] == d for f in rates)]
    width = 0.8 / max(1, len(daemons))
    for i, daemon in enumerate(daemons):
        xs, ys = [], []
        for j, what in enumerate(whats):
            ratio = find(ratios, what, f"{daemon}/stock")
            if daemon == "stock" or ratio:
                xs.append(j + i * width)
                ys.append(1.0 if daemon == "stock" else ratio["median"])
        left.bar(xs, ys, width, label=daemon)
    left.axhline(1.0, color="grey", linewidth=0.8)
    left.set_xticks([j + width * (len(daemons) - 1) / 2 for j in range(len(whats))])
    left.set_xticklabels([w.replace(" (", "\n(") for w in whats], fontsize=8)
    left.set_ylabel("throughput relative to stock dbus-daemon")
    left.set_title("Throughput (median of run-by-run ratios, stock = 1)")
    left.legend()
    peers = [int(p.split()[0]) for p in PEER_COUNTS]
    for what in ordered_whats(latencies):
        ys = [find(latencies, what, p) for p in PEER_COUNTS]
        if all(ys):
            right.plot(peers, [y["median"] for y in ys], marker="o", label=what)
    right.set_xscale("log")
    right.set_xlabel("other idle peers connected")
    right.set_ylabel("ms (median)")
    right.set_title("Freeze / Thaw latencies (our daemon)")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_dir, inputs = sys.argv[1], sys.argv[2:]
    figures, notes = read_figures([p for p in inputs if os.path.exists(p)])
    plot(figures, os.path.join(out_dir, "bench.png"))
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    report = f"""# dbus-checkpoint benchmarks

{now}, {platform.node()}, Linux {platform.release()}, {os.cpu_count()} CPUs.
Written by `scripts/bench.sh`.  Other processes on the machine share its cores:
absolute figures vary from run to run, ratios within one run mean more.

![throughput, latencies, restore vs cold start](bench.png)

## Throughput: our dbus-daemon vs stock 1.16.2 vs dbus-broker

sd-bus clients on private system-type buses; the server is the sd-bus sample service
(`Echo(s)`). Each dbus-daemon runs with its own build's `system.conf` rewritten the same way
(ours adds `<checkpoint_dir>` and root's Checkpoint policy); dbus-broker gets the stock one.
All three run at once and take turns, measure by measure, 0.25 s each.
Sequential: one call at a time; pipelined: 64 calls in flight; fan-out: one emitter,
10 receivers with a match rule each, the emitter at most 256 signals ahead of the slowest
receiver, delivered signals per second.

{throughput_section(figures)}
## Freeze and Thaw latencies (our daemon)

`org.freedesktop.DBus.Checkpoint` on a private system bus with 1, 100 and 1,000 other
idle peers connected (Hello done, no match rules).  The frozen connection is served by a
thread of the benchmark, so delivery times are on the benchmark's own clock.
"error at caller": a caller calling the service in a loop first gets
`org.freedesktop.DBus.Error.NameFrozen`; "signal at peer": a peer's match rule for
`NameFrozen` delivers it; "first queued message": a signal queued while frozen reaches the
service after Thaw. Freeze writes the connection's record to `<checkpoint_dir>` (in `/tmp`
here) before it answers.

{latency_section(figures)}
## Memory per frozen connection

{memory_section(figures)}
## Load: many callers and an unprivileged flood (issue 12)

{load_section(figures)}
## Restore vs cold start

The sd-bus sample service on our daemon's private system bus, with `--init-ms N` (it sleeps
N ms before connecting) or `--heap-mb 200` (it allocates and touches 200 MiB first).
Cold start: exec → the first `Get` it answers, called by a client connected beforehand that
calls again after each `ServiceUnknown`, woken by the name's `NameOwnerChanged`.
Restore: that same service, once it answered, frozen and dumped with `criu dump`; then
`criu restore -d` with our plugin → `Thaw` → the first `Get` it answers.  "lazy": the same
dump restored with `criu restore --lazy-pages` while `criu lazy-pages` serves the pages from
the images through userfaultfd (its start is counted in the restore).  Every run goes through
all scenarios in turn; cold / restore is taken within each cycle.  Images are on local disk.

{restore_section(figures, notes)}
## Debian's system services: restore vs cold start (issue 9)

`dcp-bench-services`: avahi-daemon (`-s`, user avahi, chrooted, with its helper child),
accounts-daemon and rtkit-daemon as their units start them, polkitd activated by the bus
through Debian's launch helper, each on a bus of its own: our daemon as THE system bus of a
private mount namespace (`test/system/distribution_bus`, Debian's policies, dropping to
messagebus).  Cold start: exec (or the activating call) → the first answered real call
(`GetVersionString`, `FindUserByName`, a property).  Restore: `dbus-checkpoint checkpoint NAME`,
then `dbus-checkpoint restore` → the same call answered by the same unique name and pid (the
round trip of `test/system/service_round_trip`, every check held in every run).  Every run goes
through all services in turn; cold / restore is taken within each run.

{services_section(figures, notes)}
## Graphical session: restore vs cold start

`test/wayland/session.sh`: headless weston 10 (pixman, desktop-shell), weston-terminal and
dcp-wayland-counter, on our daemon as private session and system bus.  Cold start: exec →
the counter's first frame on screen (the terminal is on screen before it starts) → the first
`Get` answered on the session bus (busctl).  Restore: that session checkpointed with
`dbus-checkpoint checkpoint --pid` (both buses, `--file-locks`), then
`dbus-checkpoint restore` (waits for the pids, `criu restore -d`, Thaw of both connections) →
the first `Get` answered (busctl).

{wayland_section(figures)}
## Live migration between hosts (issue 13)

`dcp-bench-migrate`: the sd-bus sample service with a 200 MiB heap moved between two
namespace hosts of this machine (`test/criu/hosts.hpp`: A, and B with pid, mount and network
namespaces of its own, a veth link, a bus each), a caller on each bus sending `Get` every 5 ms.
migrate: `dbus-checkpoint migrate` on A (criu dump `--lazy-pages`, its page server on A's link
address) while `dbus-checkpoint receive` on B restores at once and fetches the pages
(post-copy).  The way before it: `checkpoint` on A, the images copied, `restore` on B.
Downtime: A's last answer → B's first.

{migrate_section(figures, notes)}
## CRIU exec'ed vs through its RPC (issue 13)

`dcp-bench-criu-rpc`: one small process without a bus (4 MiB heap, a counter), dumped once,
restored again and again three ways, interleaved: `criu restore -d` exec'ed (today's path, to
its exit); a `criu swrk` worker started 200 ms before (the RESTORE request to its answer); a
running `criu service` (connect, request, answer).  Our plugin is loaded in all three.  The
saving is what not exec'ing CRIU would take off every restore, of the services' figures above
too.

{criu_rpc_section(figures, notes)}"""
    with open(os.path.join(out_dir, "report.md"), "w") as out:
        out.write(report)


if __name__ == "__main__":
    main()
