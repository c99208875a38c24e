#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Sample system-bus service on GDBus (python3-gi) with a GLib main loop.

Same interface and behaviour as dcp-sample-sdbus; see sample_common.py.
Unlike the other two, GDBus reads and writes the socket in its own worker
thread: Busy blocks the handlers, not the reading of the socket.
"""
import sys
import time

from gi.repository import Gio, GLib

import sample_common as common

INTROSPECTION_XML = f"""
<node>
  <interface name="{common.INTERFACE}">
    <method name="Increment"><arg name="value" type="t" direction="out"/></method>
    <method name="Get"><arg name="value" type="t" direction="out"/></method>
    <method name="Echo">
      <arg name="text" type="s" direction="in"/>
      <arg name="text" type="s" direction="out"/>
    </method>
    <method name="Busy"><arg name="ms" type="u" direction="in"/></method>
    <method name="CallPeer"><arg name="destination" type="s" direction="in"/></method>
    <method name="GetPeerReplies"><arg name="replies" type="as" direction="out"/></method>
    <method name="GetPokes"><arg name="count" type="t" direction="out"/></method>
    <method name="Quit"/>
    <signal name="Changed"><arg name="value" type="t"/></signal>
  </interface>
</node>
"""


def dbus_error_name(error):
    """The D-Bus error name behind a GLib.Error from a call."""
    name = Gio.DBusError.get_remote_error(error)
    if name:
        return name
    if error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT):
        return "org.freedesktop.DBus.Error.NoReply"  # what libdbus and sd-bus report
    return "org.freedesktop.DBus.Error.Failed"


class Sample:
    def __init__(self, connection, well_known_name, main_loop):
        self._connection = connection
        self._main_loop = main_loop
        self._state = common.SampleState(well_known_name)
        self._handlers = {
            "Increment": self._increment, "Get": self._get, "Echo": self._echo,
            "Busy": self._busy, "CallPeer": self._call_peer,
            "GetPeerReplies": self._get_peer_replies, "GetPokes": self._get_pokes,
            "Quit": self._quit,
        }
        interface = Gio.DBusNodeInfo.new_for_xml(INTROSPECTION_XML).interfaces[0]
        connection.register_object(common.OBJECT_PATH, interface, self._on_method_call)
        # Any sender, any path.  AddMatch is sent without waiting for its
        # reply, but before RequestName: once the name is ours, the bus has
        # processed the match too.
        connection.signal_subscribe(None, common.INTERFACE, "Poke", None, None,
                                    Gio.DBusSignalFlags.NONE, self._state.poke)

    def _on_method_call(self, _connection, _sender, _path, _interface, method, parameters,
                        invocation):
        reply = self._handlers[method](*parameters.unpack())
        invocation.return_value(reply)

    def _increment(self):
        value = GLib.Variant("(t)", (self._state.increment(),))
        # Queued before the reply: a caller holding reply N already has
        # Changed(N) queued.
        self._connection.emit_signal(None, common.OBJECT_PATH, common.INTERFACE, "Changed", value)
        return value

    def _get(self):
        return GLib.Variant("(t)", (self._state.counter,))

    def _echo(self, text):
        return GLib.Variant("(s)", (text,))

    def _busy(self, ms):
        time.sleep(ms / 1000)  # on purpose: blocks the main loop, not the worker thread

    def _call_peer(self, destination):
        self._connection.call(destination, common.OBJECT_PATH, common.INTERFACE, "Echo",
                              GLib.Variant("(s)", (self._state.greeting,)),
                              GLib.VariantType("(s)"), Gio.DBusCallFlags.NONE, -1, None,
                              self._on_peer_reply)

    def _on_peer_reply(self, connection, result):
        try:
            (text,) = connection.call_finish(result).unpack()
            self._state.add_peer_reply(text)
        except GLib.Error as error:
            self._state.add_peer_error(dbus_error_name(error))

    def _get_peer_replies(self):
        return GLib.Variant("(as)", (self._state.peer_replies,))

    def _get_pokes(self):
        return GLib.Variant("(t)", (self._state.pokes,))

    def _quit(self):
        # The reply is queued first; main() flushes it after the loop.
        GLib.idle_add(self._main_loop.quit)


def main():
    args = common.start("GDBus via python3-gi")

    main_loop = GLib.MainLoop()
    try:
        connection = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
        service = Sample(connection, args.name, main_loop)  # noqa: F841 -- exported while it lives
    except GLib.Error as error:
        print(f"sample_gdbus: cannot start on the system bus: {error.message}", file=sys.stderr)
        return 1

    exit_status = 0

    def on_name_acquired(connection, name):
        common.announce("sample_gdbus", connection.get_unique_name(), name)
        common.write_ready_file(args.ready_file, connection.get_unique_name())

    def on_name_lost(_connection, name):
        nonlocal exit_status
        print(f"sample_gdbus: cannot own (or lost) {name}", file=sys.stderr)
        exit_status = 1
        main_loop.quit()

    Gio.bus_own_name_on_connection(connection, args.name, Gio.BusNameOwnerFlags.DO_NOT_QUEUE,
                                   on_name_acquired, on_name_lost)
    main_loop.run()
    connection.flush_sync(None)  # the Quit reply
    return exit_status


if __name__ == "__main__":
    sys.exit(main())
