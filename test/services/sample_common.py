# SPDX-License-Identifier: GPL-2.0-or-later
"""What the Python sample services share: the interface's names, the command
line, the simulated start-up cost and the ready file.

The services run under Debian's /usr/bin/python3 (python3-dbus and
python3-gi are installed for it) and import this module from their own
directory.
"""
import argparse
import os
import time

DEFAULT_NAME = "org.dbuscheckpoint.Sample"
OBJECT_PATH = "/org/dbuscheckpoint/Sample"
INTERFACE = "org.dbuscheckpoint.Sample1"

INTERFACE_SUMMARY = f"""\
Exports {OBJECT_PATH} with interface {INTERFACE}:
Increment() -> t, Get() -> t, Echo(s) -> s, Busy(u ms), CallPeer(s destination),
GetPeerReplies() -> as, GetPokes() -> t, Quit(); signal Changed(t).
Counts Poke signals of that interface.  Exit status: 0 after Quit(), 1 on a
bus error, 2 on bad options."""


def non_negative_int(text):
    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"needs a non-negative integer, not {text!r}")
    return value


def parse_args(library):
    """argparse exits with status 2 and a message on bad options."""
    parser = argparse.ArgumentParser(
        description=f"Sample D-Bus service ({library}) on the SYSTEM bus\n"
                    "($DBUS_SYSTEM_BUS_ADDRESS is honored).",
        epilog=INTERFACE_SUMMARY,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default=DEFAULT_NAME,
                        help=f"bus name to own (default {DEFAULT_NAME})")
    parser.add_argument("--init-ms", type=non_negative_int, default=0, metavar="N",
                        help="sleep N ms before connecting (simulated slow start-up)")
    parser.add_argument("--heap-mb", type=non_negative_int, default=0, metavar="N",
                        help="allocate N MiB, touch every page, keep it until exit")
    parser.add_argument("--ready-file", metavar="PATH",
                        help="once ready, write the unique name and a newline to "
                             "PATH.tmp and rename it to PATH")
    return parser.parse_args()


# Kept for the process lifetime: resident memory the tests can measure (and
# CRIU has to dump).
_heap = bytearray()


def start(library):
    """Parse the options, then pay the simulated costs of a real service:
    --heap-mb, then --init-ms, both before connecting to the bus."""
    global _heap
    args = parse_args(library)
    # Repeating a non-zero byte memsets the whole buffer, so every page is
    # written, not just reserved.
    _heap = bytearray(b"\xa5") * (args.heap_mb << 20)
    time.sleep(args.init_ms / 1000)
    return args


class SampleState:
    """The service's state, the same whatever library carries it."""

    def __init__(self, well_known_name):
        self.greeting = "from " + well_known_name  # what CallPeer sends
        self.counter = 0
        self.pokes = 0
        self.peer_replies = []

    def increment(self):
        self.counter += 1
        return self.counter

    def poke(self, *_signal_details):
        self.pokes += 1

    def add_peer_reply(self, text):
        self.peer_replies.append(str(text))

    def add_peer_error(self, error_name):
        self.peer_replies.append("error: " + error_name)


def write_ready_file(path, unique_name):
    """Write-then-rename: a reader never sees a half-written file."""
    if not path:
        return
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(unique_name + "\n")
    os.rename(temporary, path)


def announce(program, unique_name, name):
    print(f"{program}: {unique_name} owns {name} (pid {os.getpid()})", flush=True)
