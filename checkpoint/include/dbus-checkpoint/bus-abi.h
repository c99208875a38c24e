/* bus-abi.h: the one narrow C ABI between the patched dbus-daemon and the
 * dbus-checkpoint C++ library.
 *
 * The daemon (C, bus/ in the patched tree) calls only what is declared here;
 * everything else about checkpoints lives behind it, in C++.  Conventions:
 *  - functions returning int return 0 on success and a negative errno value
 *    on failure (-ENOMEM for out of memory), never throw;
 *  - strings are NUL-terminated UTF-8, owned by the caller unless stated.
 *
 * SPDX-License-Identifier: AFL-2.1 OR GPL-2.0-or-later
 */
#ifndef DBUS_CHECKPOINT_BUS_ABI_H
#define DBUS_CHECKPOINT_BUS_ABI_H

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the dbus-checkpoint library, e.g. "0.1.0". Static string. */
const char *dcp_version (void);

/* Called once by the daemon at start-up, before any other dcp_ function.
 * Checks that the library the daemon was linked with is usable (protobuf
 * runtime matches the headers it was built with). */
int dcp_init (void);

#ifdef __cplusplus
}
#endif

#endif /* DBUS_CHECKPOINT_BUS_ABI_H */
