#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Sample system-bus service on libdbus (python3-dbus) with a GLib main loop.

Same interface and behaviour as dcp-sample-sdbus; see sample_common.py.
libdbus integrated into GLib runs in this one thread: while a handler runs
(Busy), nobody reads the bus socket.
"""
import sys
import time

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

import sample_common as common


class Sample(dbus.service.Object):
    def __init__(self, bus, well_known_name, main_loop):
        super().__init__(bus, common.OBJECT_PATH)
        self._bus = bus
        self._main_loop = main_loop
        self._state = common.SampleState(well_known_name)
        # add_signal_receiver sends AddMatch and waits for its reply, so a
        # Poke sent after readiness is never missed.  Any sender, any path.
        bus.add_signal_receiver(self._state.poke, signal_name="Poke",
                                dbus_interface=common.INTERFACE)

    @dbus.service.method(common.INTERFACE, in_signature="", out_signature="t")
    def Increment(self):
        value = self._state.increment()
        # Emitted before the reply is sent (after we return): a caller
        # holding reply N already has Changed(N) queued.
        self.Changed(value)
        return value

    @dbus.service.signal(common.INTERFACE, signature="t")
    def Changed(self, value):
        pass

    @dbus.service.method(common.INTERFACE, in_signature="", out_signature="t")
    def Get(self):
        return self._state.counter

    @dbus.service.method(common.INTERFACE, in_signature="s", out_signature="s")
    def Echo(self, text):
        return text

    @dbus.service.method(common.INTERFACE, in_signature="u", out_signature="")
    def Busy(self, ms):
        time.sleep(ms / 1000)  # on purpose: blocks the main loop

    @dbus.service.method(common.INTERFACE, in_signature="s", out_signature="")
    def CallPeer(self, destination):
        self._bus.call_async(destination, common.OBJECT_PATH, common.INTERFACE, "Echo", "s",
                             (self._state.greeting,),
                             reply_handler=self._state.add_peer_reply,
                             error_handler=lambda error: self._state.add_peer_error(
                                 str(error.get_dbus_name())))

    @dbus.service.method(common.INTERFACE, in_signature="", out_signature="as")
    def GetPeerReplies(self):
        return self._state.peer_replies

    @dbus.service.method(common.INTERFACE, in_signature="", out_signature="t")
    def GetPokes(self):
        return self._state.pokes

    @dbus.service.method(common.INTERFACE, in_signature="", out_signature="")
    def Quit(self):
        # The reply is sent after we return; main() flushes it after the loop.
        GLib.idle_add(self._main_loop.quit)


def main():
    args = common.start("libdbus via python3-dbus")

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    main_loop = GLib.MainLoop()
    try:
        bus = dbus.SystemBus()
        service = Sample(bus, args.name, main_loop)  # noqa: F841 -- exported while it lives
        name = dbus.service.BusName(args.name, bus, do_not_queue=True)  # noqa: F841
    except dbus.exceptions.DBusException as error:
        print(f"sample_dbus_python: cannot start on the system bus: {error}", file=sys.stderr)
        return 1
    common.announce("sample_dbus_python", bus.get_unique_name(), args.name)
    common.write_ready_file(args.ready_file, bus.get_unique_name())

    main_loop.run()
    bus.flush()  # the Quit reply
    return 0


if __name__ == "__main__":
    sys.exit(main())
