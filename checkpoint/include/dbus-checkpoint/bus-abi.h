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

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the dbus-checkpoint library, e.g. "0.1.0". Static string. */
const char *dcp_version (void);

/* Called once by the daemon at start-up, before any other dcp_ function.
 * Checks that the library the daemon was linked with is usable (protobuf
 * runtime matches the headers it was built with). */
int dcp_init (void);

/* ---- Checkpoint ids --------------------------------------------------- */

#define DCP_CHECKPOINT_ID_LENGTH 32   /* hex digits, without the NUL */

/* Fill id_out (at least DCP_CHECKPOINT_ID_LENGTH + 1 bytes) with a fresh
 * id: 128 bits from getrandom(), as 32 lowercase hex digits. */
int dcp_checkpoint_id_new (char *id_out);

/* ---- The record of one frozen connection (proto/frozen_connection.proto)
 *
 * A DcpRecord is built by the daemon when a connection freezes (and rebuilt
 * whenever its state changes), serialized for Export / the state directory,
 * and parsed + validated for Import / start-up.  All setters copy their
 * arguments.  Setters and adders return 0 or -ENOMEM / -EINVAL (NULL or
 * invalid argument).  They apply the per-item checks of dcp_record_parse
 * (and its count limits), so a record built here reads back; only duplicate
 * names are left to dcp_record_serialize, which validates the whole record. */

typedef struct DcpRecord DcpRecord;

typedef enum
{
  DCP_REPLY_OWED_BY_CONNECTION = 0,  /* a call the frozen connection received */
  DCP_REPLY_OWED_TO_CONNECTION = 1   /* a call the frozen connection made */
} DcpReplyDirection;

/* NULL on out of memory or if an argument is NULL / malformed. */
DcpRecord *dcp_record_new (const char *checkpoint_id, const char *unique_name);
void dcp_record_free (DcpRecord *record);

int dcp_record_add_name (DcpRecord *record, const char *name,
                         uint32_t flags, uint32_t queue_position);
int dcp_record_add_match_rule (DcpRecord *record, const char *rule);
int dcp_record_add_pending_reply (DcpRecord *record,
                                  DcpReplyDirection direction,
                                  const char *peer, uint32_t serial,
                                  int64_t remaining_timeout_ms);
/* gids may be NULL when n_gids is 0; security_label may be NULL (none).
 * Without this call the record has no credentials and does not serialize. */
int dcp_record_set_credentials (DcpRecord *record, uint32_t uid,
                                const uint32_t *gids, size_t n_gids,
                                uint32_t pid, const char *security_label);
int dcp_record_set_next_bus_serial (DcpRecord *record, uint32_t serial);
int dcp_record_set_unix_fd_passing (DcpRecord *record, int enabled);
int dcp_record_add_queued_message (DcpRecord *record, const void *bytes,
                                   size_t n_bytes, int is_reply);
int dcp_record_set_dropped_signals (DcpRecord *record, uint64_t n_dropped);
int dcp_record_set_unparsed_from_client (DcpRecord *record,
                                         const void *bytes, size_t n_bytes);
int dcp_record_set_unread_by_client (DcpRecord *record,
                                     const void *bytes, size_t n_bytes);
int dcp_record_set_frozen_since_usec (DcpRecord *record, int64_t usec);
/* The secret Reattach must present: DCP_CHECKPOINT_ID_LENGTH hex digits, or
 * "" for none (dcp_checkpoint_id_new() makes one). */
int dcp_record_set_reattach_secret (DcpRecord *record, const char *secret);
/* dcp_record_new() records this boot's id; a record is restored at start-up
 * in another boot only if it is kept across reboots (KeepAcrossReboot). */
int dcp_record_set_keep_across_reboot (DcpRecord *record, int keep);

/* Serialized bytes in *bytes_out (malloc()ed; release with free()).
 * -EINVAL if the record would not pass dcp_record_parse (e.g. no
 * credentials set, a name listed twice), -EFBIG over 256 MiB. */
int dcp_record_serialize (const DcpRecord *record,
                          void **bytes_out, size_t *n_bytes_out);

/* Parse and validate every field (DESIGN.md §2).  On success *record_out is
 * a new record and 0 is returned.  On failure returns -EINVAL (or -ENOMEM)
 * and, if error_out is not NULL, stores a malloc()ed English sentence saying
 * what is wrong (release with free()). */
int dcp_record_parse (const void *bytes, size_t n_bytes,
                      DcpRecord **record_out, char **error_out);

/* Getters.  Returned strings and buffers belong to the record and stay
 * valid until it is freed or changed.  Index getters return -EINVAL when
 * the index is out of range (or the record is NULL); their output pointers
 * may be NULL for values not wanted.  With a NULL record the other getters
 * return NULL / 0 / empty.  Pending replies are indexed as one list: those
 * owed by the connection first, then those owed to it. */
const char *dcp_record_get_checkpoint_id (const DcpRecord *record);
const char *dcp_record_get_unique_name (const DcpRecord *record);
size_t dcp_record_get_n_names (const DcpRecord *record);
int dcp_record_get_name (const DcpRecord *record, size_t index,
                         const char **name, uint32_t *flags,
                         uint32_t *queue_position);
size_t dcp_record_get_n_match_rules (const DcpRecord *record);
const char *dcp_record_get_match_rule (const DcpRecord *record, size_t index);
size_t dcp_record_get_n_pending_replies (const DcpRecord *record);
int dcp_record_get_pending_reply (const DcpRecord *record, size_t index,
                                  DcpReplyDirection *direction,
                                  const char **peer, uint32_t *serial,
                                  int64_t *remaining_timeout_ms);
void dcp_record_get_credentials (const DcpRecord *record, uint32_t *uid,
                                 const uint32_t **gids, size_t *n_gids,
                                 uint32_t *pid, const char **security_label);
uint32_t dcp_record_get_next_bus_serial (const DcpRecord *record);
int dcp_record_get_unix_fd_passing (const DcpRecord *record);
size_t dcp_record_get_n_queued_messages (const DcpRecord *record);
int dcp_record_get_queued_message (const DcpRecord *record, size_t index,
                                   const void **bytes, size_t *n_bytes,
                                   int *is_reply);
uint64_t dcp_record_get_dropped_signals (const DcpRecord *record);
void dcp_record_get_unparsed_from_client (const DcpRecord *record,
                                          const void **bytes, size_t *n_bytes);
void dcp_record_get_unread_by_client (const DcpRecord *record,
                                      const void **bytes, size_t *n_bytes);
int64_t dcp_record_get_frozen_since_usec (const DcpRecord *record);
const char *dcp_record_get_reattach_secret (const DcpRecord *record);
int dcp_record_get_keep_across_reboot (const DcpRecord *record);
/* 1 if start-up restores it: made in this boot (or it does not say which),
 * or kept across reboots; 0 if it is of another boot and not kept. */
int dcp_record_is_restored_at_start_up (const DcpRecord *record);

/* ---- The state directory (bus config <checkpoint_dir>) ----------------
 *
 * One file per frozen connection, DIR/<checkpoint_id>.record, written
 * atomically (temporary file, fsync, rename), mode 0600.  The directory is
 * created (0700) if missing. */
int dcp_state_save (const char *dir, const DcpRecord *record);
/* Whether the daemon may use dir, checked at start-up: 0 if it may (also
 * when it does not exist yet); -EPERM with *problem_out (free()) saying why
 * if it is a symlink, not a directory, owned by neither root, the daemon
 * nor bus_user (the config's <user>, or NULL), or writable by group or
 * others; -ENOMEM. */
int dcp_state_check_dir (const char *dir, const char *bus_user, char **problem_out);
int dcp_state_remove (const char *dir, const char *checkpoint_id);
/* DIR/<id>.record becomes DIR/<id>.other-boot: kept, no longer loaded. */
int dcp_state_set_aside (const char *dir, const char *checkpoint_id);

/* ---- Writing records off the daemon's main loop ----------------------
 *
 * A DcpStateWriter writes the records of DIR on a thread of its own: the
 * daemon builds a record (its structures are not thread-safe) and hands it
 * over; serializing, writing, fsyncing and renaming it happen there, so a
 * big record no longer stalls every client of the bus.  Call it from one
 * thread only (the daemon's main loop).  For one checkpoint id the file
 * always ends up as the last call left it. */
typedef struct DcpStateWriter DcpStateWriter;

/* Called on the writer's thread with a sentence saying which write failed
 * and why ("Cannot write the record of checkpoint ID in DIR: ..."): it must
 * be safe to call from another thread. */
typedef void (*DcpStateWriterLogFunc) (void *user_data, const char *sentence);

/* NULL on out of memory or a NULL or empty dir.  The thread starts with the
 * first dcp_state_writer_save(), so a daemon that forks after this call
 * still has it. */
DcpStateWriter *dcp_state_writer_new (const char *dir,
                                      DcpStateWriterLogFunc log_failure,
                                      void *user_data);
/* Writes what is still pending, waits for it, and stops the thread. */
void dcp_state_writer_free (DcpStateWriter *writer);
/* Takes the record (frees it, also on failure) and queues it; a save of the
 * same id still pending is replaced by it.  Its failure is reported to
 * log_failure.  0, -ENOMEM, -EINVAL (NULL argument). */
int dcp_state_writer_save (DcpStateWriter *writer, DcpRecord *record);
/* Like dcp_state_save(), on the calling thread: for a write whose failure is
 * the caller's answer (Freeze).  No save handed over before it replaces the
 * file afterwards. */
int dcp_state_writer_save_now (DcpStateWriter *writer, const DcpRecord *record);
/* Like dcp_state_remove(), on the calling thread; a save of the id still
 * pending is dropped, and one being written is not put in place. */
int dcp_state_writer_remove (DcpStateWriter *writer, const char *checkpoint_id);

/* Called by dcp_state_load_all() for each record file.  `record` is owned
 * by the callee when `error_message` is NULL; otherwise the file at `path`
 * is invalid, `record` is NULL and `error_message` says why.  Return 0 to
 * continue, a negative errno to stop (it is returned by load_all). */
typedef int (*DcpStateLoadFunc) (void *user_data, const char *path,
                                 DcpRecord *record, const char *error_message);
/* Files are visited in name order; files not named *.record (such as the
 * temporary files of an interrupted save) are ignored, and a record whose
 * id differs from its file name is reported as invalid.  A missing
 * directory is not an error (no records).  Out of memory stops with
 * -ENOMEM. */
int dcp_state_load_all (const char *dir, DcpStateLoadFunc func,
                        void *user_data);

/* ---- Adopting a record on a bus that mediates with an LSM -------------
 *
 * An LSM (SELinux, AppArmor) mediates a bus client as the label of the
 * peer of its socket; an adopted connection's socket is the bus's own
 * socketpair, so the bus would mediate it as the bus itself.  Until it can
 * mediate it as its recorded label, it adopts a record only when the two
 * are the same.  socket_fd: the bus's end of the adopted connection;
 * bus_mediates: whether the bus mediates with an LSM.  0 if the record may
 * be adopted (always when the bus does not mediate); -EACCES with
 * *problem_out (free()) saying why; -ENOMEM; another negative errno with
 * *problem_out if the socket's label cannot be read.  In builds with the
 * tests, DCP_TEST_BUS_LSM_LABEL set makes the bus mediate, as if its own
 * label were that value. */
int dcp_adoption_check_label (int socket_fd, const char *recorded_label,
                              int bus_mediates, char **problem_out);

#ifdef __cplusplus
}
#endif

#endif /* DBUS_CHECKPOINT_BUS_ABI_H */
