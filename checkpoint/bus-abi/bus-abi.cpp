// SPDX-License-Identifier: GPL-2.0-or-later
// The C ABI the patched daemon links against (include/dbus-checkpoint/bus-abi.h).
// Each entry point validates its arguments and turns C++ failures into
// negative errno values: no exception crosses into the daemon.
#include "dbus-checkpoint/bus-abi.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include <google/protobuf/stubs/common.h>

#include "dbus-checkpoint/version.hpp"
#include "record/checkpoint_id.hpp"
#include "record/mediation.hpp"
#include "record/record.hpp"
#include "record/state_dir.hpp"
#include "record/state_writer.hpp"
#include "record/validate.hpp"

namespace rec = dbus_checkpoint::record;
namespace v1 = dbus_checkpoint::v1;

// The repeated fields of `proto` hand out stable pointers (strings, bytes,
// gids) until the next change, which is all the getters need.
struct DcpRecord
{
  rec::FrozenConnection proto;
};

struct DcpStateWriter
{
  DcpStateWriter (std::string dir, rec::StateWriter::FailureLog log_failure,
                  rec::StateWriter::Options options)
      : writer (std::move (dir), std::move (log_failure), options)
  {
  }

  rec::StateWriter writer;
};

namespace {

// 0 for success, otherwise the error's negative errno.
int
negative_errno (const dbus_checkpoint::base::Status &status) noexcept
{
  return status ? 0 : status.error ().negative_errno ();
}

// Runs `body`, which returns 0 or a negative errno, catching what it throws.
template <typename Body>
int
guarded (Body &&body) noexcept
{
  try
    {
      return body ();
    }
  catch (const std::bad_alloc &)
    {
      return -ENOMEM;
    }
  catch (...)
    {
      // Nothing else is expected; this only keeps it out of the C caller.
      return -EINVAL;
    }
}

// Appends `item` if it passes `check` (the same check dcp_record_parse
// applies), so that the daemon cannot build a record it could not read back.
template <typename Items, typename Item, typename Check>
int
append_checked (Items &items, Item &&item, std::size_t limit, Check &&check)
{
  const auto index = static_cast<std::size_t> (items.size ());
  if (index >= limit || !check (item, index))
    return -EINVAL;
  *items.Add () = std::forward<Item> (item);
  return 0;
}

int
set_stream_bytes (std::string *field, const void *bytes, size_t n_bytes)
{
  if (bytes == nullptr && n_bytes > 0)
    return -EINVAL;
  if (n_bytes > rec::kMaxStreamBytes)
    return -EINVAL;
  return guarded ([&] {
    field->assign (static_cast<const char *> (bytes), n_bytes);
    return 0;
  });
}

void
get_bytes (const std::string &field, const void **bytes, size_t *n_bytes) noexcept
{
  if (bytes != nullptr)
    *bytes = field.data ();
  if (n_bytes != nullptr)
    *n_bytes = field.size ();
}

// A malloc()ed copy, for the C caller to free().
char *
malloced_copy (std::string_view text) noexcept
{
  auto *copy = static_cast<char *> (std::malloc (text.size () + 1));
  if (copy == nullptr)
    return nullptr;
  std::memcpy (copy, text.data (), text.size ());
  copy[text.size ()] = '\0';
  return copy;
}

size_t
count_of (const DcpRecord *record, int (rec::FrozenConnection::*size) () const) noexcept
{
  return record != nullptr ? static_cast<size_t> ((record->proto.*size) ()) : 0;
}

// The index-th of `items`, or NULL when out of range.
template <typename Items>
auto
item_at (const Items &items, size_t index) noexcept -> decltype (&items.Get (0))
{
  if (index >= static_cast<size_t> (items.size ()))
    return nullptr;
  return &items.Get (static_cast<int> (index));
}

// The index-th item of a repeated field of `record`, or NULL when there is
// no record or no such item.
template <typename Items>
auto
item_at (const DcpRecord *record, const Items &(rec::FrozenConnection::*items) () const,
         size_t index) noexcept -> decltype (item_at (Items (), index))
{
  return record != nullptr ? item_at ((record->proto.*items) (), index) : nullptr;
}

const v1::PendingReply *
pending_reply_at (const rec::FrozenConnection &proto, size_t index,
                  DcpReplyDirection *direction) noexcept
{
  const auto &owed_by = proto.replies_owed_by_connection ();
  if (index < static_cast<size_t> (owed_by.size ()))
    {
      *direction = DCP_REPLY_OWED_BY_CONNECTION;
      return item_at (owed_by, index);
    }
  *direction = DCP_REPLY_OWED_TO_CONNECTION;
  return item_at (proto.replies_owed_to_connection (), index - owed_by.size ());
}

// Hands one file found by dcp_state_load_all() to the daemon's callback.
dbus_checkpoint::base::Status
report_loaded_file (rec::LoadedFile &&file, DcpStateLoadFunc func, void *user_data)
{
  if (!file.decoded && file.decoded.error ().errno_value == ENOMEM)
    return file.decoded.error ();
  int result;
  if (file.decoded)
    {
      auto record
          = std::make_unique<DcpRecord> (DcpRecord{std::move (file.decoded).value ()});
      result = func (user_data, file.path.c_str (), record.release (), nullptr);
    }
  else
    {
      result = func (user_data, file.path.c_str (), nullptr,
                     file.decoded.error ().message.c_str ());
    }
  if (result < 0)
    return dbus_checkpoint::base::failure (-result, {});
  return {};
}

} // namespace

extern "C" const char *
dcp_version (void)
{
  return dbus_checkpoint::kVersion;
}

extern "C" int
dcp_init (void)
{
  try
    {
      GOOGLE_PROTOBUF_VERIFY_VERSION;
      return 0;
    }
  catch (const std::bad_alloc &)
    {
      return -ENOMEM;
    }
  catch (const std::exception &)
    {
      return -EINVAL;
    }
}

/* ---- Checkpoint ids ---- */

extern "C" int
dcp_checkpoint_id_new (char *id_out)
{
  if (id_out == nullptr)
    return -EINVAL;
  return guarded ([&] {
    auto id = rec::new_checkpoint_id ();
    if (!id)
      return id.error ().negative_errno ();
    std::memcpy (id_out, id.value ().c_str (), id.value ().size () + 1);
    return 0;
  });
}

/* ---- Building a record ---- */

extern "C" DcpRecord *
dcp_record_new (const char *checkpoint_id, const char *unique_name)
{
  if (checkpoint_id == nullptr || unique_name == nullptr
      || !rec::is_valid_checkpoint_id (checkpoint_id)
      || !rec::is_valid_unique_name (unique_name))
    return nullptr;
  try
    {
      auto record = std::make_unique<DcpRecord> ();
      record->proto.set_format_version (rec::kFormatVersion);
      record->proto.set_checkpoint_id (checkpoint_id);
      record->proto.set_unique_name (unique_name);
      record->proto.set_boot_id (rec::current_boot_id ());
      return record.release ();
    }
  catch (...)
    {
      return nullptr;
    }
}

extern "C" void
dcp_record_free (DcpRecord *record)
{
  delete record;
}

extern "C" int
dcp_record_add_name (DcpRecord *record, const char *name, uint32_t flags,
                     uint32_t queue_position)
{
  if (record == nullptr || name == nullptr)
    return -EINVAL;
  return guarded ([&] {
    v1::OwnedName owned;
    owned.set_name (name);
    owned.set_flags (flags);
    owned.set_queue_position (queue_position);
    return append_checked (*record->proto.mutable_names (), std::move (owned),
                           rec::kMaxOwnedNames, rec::check_owned_name);
  });
}

extern "C" int
dcp_record_add_match_rule (DcpRecord *record, const char *rule)
{
  if (record == nullptr || rule == nullptr)
    return -EINVAL;
  return guarded ([&] {
    return append_checked (*record->proto.mutable_match_rules (), std::string (rule),
                           rec::kMaxMatchRules, rec::check_match_rule);
  });
}

extern "C" int
dcp_record_add_pending_reply (DcpRecord *record, DcpReplyDirection direction,
                              const char *peer, uint32_t serial,
                              int64_t remaining_timeout_ms)
{
  if (record == nullptr || peer == nullptr)
    return -EINVAL;
  if (direction != DCP_REPLY_OWED_BY_CONNECTION && direction != DCP_REPLY_OWED_TO_CONNECTION)
    return -EINVAL;
  return guarded ([&] {
    v1::PendingReply reply;
    reply.set_peer (peer);
    reply.set_serial (serial);
    reply.set_remaining_timeout_ms (remaining_timeout_ms);
    const bool owed_by = direction == DCP_REPLY_OWED_BY_CONNECTION;
    auto &replies = owed_by ? *record->proto.mutable_replies_owed_by_connection ()
                            : *record->proto.mutable_replies_owed_to_connection ();
    const char *field = owed_by ? "replies_owed_by_connection" : "replies_owed_to_connection";
    return append_checked (replies, std::move (reply), rec::kMaxPendingReplies,
                           [field] (const v1::PendingReply &item, std::size_t index) {
                             return rec::check_pending_reply (item, field, index);
                           });
  });
}

extern "C" int
dcp_record_set_credentials (DcpRecord *record, uint32_t uid, const uint32_t *gids,
                            size_t n_gids, uint32_t pid, const char *security_label)
{
  if (record == nullptr || (gids == nullptr && n_gids > 0) || n_gids > rec::kMaxGids)
    return -EINVAL;
  return guarded ([&] {
    v1::Credentials credentials;
    credentials.set_uid (uid);
    credentials.mutable_gids ()->Add (gids, gids + n_gids);
    credentials.set_pid (pid);
    credentials.set_security_label (security_label != nullptr ? security_label : "");
    if (!rec::check_credentials (credentials))
      return -EINVAL;
    *record->proto.mutable_credentials () = std::move (credentials);
    return 0;
  });
}

extern "C" int
dcp_record_set_next_bus_serial (DcpRecord *record, uint32_t serial)
{
  if (record == nullptr)
    return -EINVAL;
  record->proto.set_next_bus_serial (serial);
  return 0;
}

extern "C" int
dcp_record_set_reattach_secret (DcpRecord *record, const char *secret)
{
  if (record == nullptr || secret == nullptr)
    return -EINVAL;
  return guarded ([&] {
    if (!rec::check_reattach_secret (secret))
      return -EINVAL;
    record->proto.set_reattach_secret (secret);
    return 0;
  });
}

extern "C" int
dcp_record_set_keep_across_reboot (DcpRecord *record, int keep)
{
  if (record == nullptr)
    return -EINVAL;
  record->proto.set_keep_across_reboot (keep != 0);
  return 0;
}

extern "C" int
dcp_record_set_unix_fd_passing (DcpRecord *record, int enabled)
{
  if (record == nullptr)
    return -EINVAL;
  record->proto.set_unix_fd_passing (enabled != 0);
  return 0;
}

extern "C" int
dcp_record_add_queued_message (DcpRecord *record, const void *bytes, size_t n_bytes,
                               int is_reply)
{
  if (record == nullptr || bytes == nullptr || n_bytes > rec::kMaxMessageBytes)
    return -EINVAL;
  return guarded ([&] {
    v1::QueuedMessage message;
    message.set_marshalled (bytes, n_bytes);
    message.set_is_reply (is_reply != 0);
    return append_checked (*record->proto.mutable_queued (), std::move (message),
                           rec::kMaxQueuedMessages, rec::check_queued_message);
  });
}

extern "C" int
dcp_record_set_dropped_signals (DcpRecord *record, uint64_t n_dropped)
{
  if (record == nullptr)
    return -EINVAL;
  record->proto.set_dropped_signals (n_dropped);
  return 0;
}

extern "C" int
dcp_record_set_unparsed_from_client (DcpRecord *record, const void *bytes, size_t n_bytes)
{
  if (record == nullptr)
    return -EINVAL;
  return set_stream_bytes (record->proto.mutable_unparsed_from_client (), bytes, n_bytes);
}

extern "C" int
dcp_record_set_unread_by_client (DcpRecord *record, const void *bytes, size_t n_bytes)
{
  if (record == nullptr)
    return -EINVAL;
  return set_stream_bytes (record->proto.mutable_unread_by_client (), bytes, n_bytes);
}

extern "C" int
dcp_record_set_frozen_since_usec (DcpRecord *record, int64_t usec)
{
  if (record == nullptr || !rec::check_frozen_since (usec))
    return -EINVAL;
  record->proto.set_frozen_since_usec (usec);
  return 0;
}

/* ---- Bytes ---- */

extern "C" int
dcp_record_serialize (const DcpRecord *record, void **bytes_out, size_t *n_bytes_out)
{
  if (record == nullptr || bytes_out == nullptr || n_bytes_out == nullptr)
    return -EINVAL;
  return guarded ([&] {
    auto encoded = rec::encode (record->proto);
    if (!encoded)
      return encoded.error ().negative_errno ();
    const std::string &bytes = encoded.value ();
    void *copy = std::malloc (std::max<size_t> (bytes.size (), 1));
    if (copy == nullptr)
      return -ENOMEM;
    std::memcpy (copy, bytes.data (), bytes.size ());
    *bytes_out = copy;
    *n_bytes_out = bytes.size ();
    return 0;
  });
}

extern "C" int
dcp_record_parse (const void *bytes, size_t n_bytes, DcpRecord **record_out, char **error_out)
{
  if (error_out != nullptr)
    *error_out = nullptr;
  if (record_out == nullptr || (bytes == nullptr && n_bytes > 0))
    return -EINVAL;
  *record_out = nullptr;
  return guarded ([&] {
    auto decoded = rec::decode (std::string_view (static_cast<const char *> (bytes), n_bytes));
    if (!decoded)
      {
        if (error_out != nullptr && !decoded.error ().message.empty ())
          *error_out = malloced_copy (decoded.error ().message);
        return decoded.error ().negative_errno ();
      }
    *record_out
        = std::make_unique<DcpRecord> (DcpRecord{std::move (decoded).value ()}).release ();
    return 0;
  });
}

/* ---- Getters ---- */

extern "C" const char *
dcp_record_get_checkpoint_id (const DcpRecord *record)
{
  return record != nullptr ? record->proto.checkpoint_id ().c_str () : nullptr;
}

extern "C" const char *
dcp_record_get_unique_name (const DcpRecord *record)
{
  return record != nullptr ? record->proto.unique_name ().c_str () : nullptr;
}

extern "C" const char *
dcp_record_get_reattach_secret (const DcpRecord *record)
{
  return record != nullptr ? record->proto.reattach_secret ().c_str () : nullptr;
}

extern "C" int
dcp_record_get_keep_across_reboot (const DcpRecord *record)
{
  return record != nullptr && record->proto.keep_across_reboot ();
}

extern "C" int
dcp_record_is_restored_at_start_up (const DcpRecord *record)
{
  if (record == nullptr)
    return 0;
  // restored if it cannot be told (no memory), as before records had boot ids
  return guarded ([&] { return rec::restored_at_start_up (record->proto) ? 1 : 0; }) != 0;
}

extern "C" size_t
dcp_record_get_n_names (const DcpRecord *record)
{
  return count_of (record, &rec::FrozenConnection::names_size);
}

extern "C" int
dcp_record_get_name (const DcpRecord *record, size_t index, const char **name,
                     uint32_t *flags, uint32_t *queue_position)
{
  const v1::OwnedName *owned = item_at (record, &rec::FrozenConnection::names, index);
  if (owned == nullptr)
    return -EINVAL;
  if (name != nullptr)
    *name = owned->name ().c_str ();
  if (flags != nullptr)
    *flags = owned->flags ();
  if (queue_position != nullptr)
    *queue_position = owned->queue_position ();
  return 0;
}

extern "C" size_t
dcp_record_get_n_match_rules (const DcpRecord *record)
{
  return count_of (record, &rec::FrozenConnection::match_rules_size);
}

extern "C" const char *
dcp_record_get_match_rule (const DcpRecord *record, size_t index)
{
  const std::string *rule = item_at (record, &rec::FrozenConnection::match_rules, index);
  return rule != nullptr ? rule->c_str () : nullptr;
}

extern "C" size_t
dcp_record_get_n_pending_replies (const DcpRecord *record)
{
  return count_of (record, &rec::FrozenConnection::replies_owed_by_connection_size)
         + count_of (record, &rec::FrozenConnection::replies_owed_to_connection_size);
}

extern "C" int
dcp_record_get_pending_reply (const DcpRecord *record, size_t index,
                              DcpReplyDirection *direction, const char **peer,
                              uint32_t *serial, int64_t *remaining_timeout_ms)
{
  if (record == nullptr)
    return -EINVAL;
  DcpReplyDirection found_direction;
  const v1::PendingReply *reply = pending_reply_at (record->proto, index, &found_direction);
  if (reply == nullptr)
    return -EINVAL;
  if (direction != nullptr)
    *direction = found_direction;
  if (peer != nullptr)
    *peer = reply->peer ().c_str ();
  if (serial != nullptr)
    *serial = reply->serial ();
  if (remaining_timeout_ms != nullptr)
    *remaining_timeout_ms = reply->remaining_timeout_ms ();
  return 0;
}

extern "C" void
dcp_record_get_credentials (const DcpRecord *record, uint32_t *uid, const uint32_t **gids,
                            size_t *n_gids, uint32_t *pid, const char **security_label)
{
  // Without a record, the default (empty) credentials.
  const v1::Credentials &credentials =
      record != nullptr ? record->proto.credentials () : v1::Credentials::default_instance ();
  if (uid != nullptr)
    *uid = credentials.uid ();
  if (gids != nullptr)
    *gids = credentials.gids ().data ();
  if (n_gids != nullptr)
    *n_gids = static_cast<size_t> (credentials.gids_size ());
  if (pid != nullptr)
    *pid = credentials.pid ();
  if (security_label != nullptr)
    *security_label = credentials.security_label ().c_str ();
}

extern "C" uint32_t
dcp_record_get_next_bus_serial (const DcpRecord *record)
{
  return record != nullptr ? record->proto.next_bus_serial () : 0;
}

extern "C" int
dcp_record_get_unix_fd_passing (const DcpRecord *record)
{
  return record != nullptr && record->proto.unix_fd_passing ();
}

extern "C" size_t
dcp_record_get_n_queued_messages (const DcpRecord *record)
{
  return count_of (record, &rec::FrozenConnection::queued_size);
}

extern "C" int
dcp_record_get_queued_message (const DcpRecord *record, size_t index, const void **bytes,
                               size_t *n_bytes, int *is_reply)
{
  const v1::QueuedMessage *message = item_at (record, &rec::FrozenConnection::queued, index);
  if (message == nullptr)
    return -EINVAL;
  get_bytes (message->marshalled (), bytes, n_bytes);
  if (is_reply != nullptr)
    *is_reply = message->is_reply ();
  return 0;
}

extern "C" uint64_t
dcp_record_get_dropped_signals (const DcpRecord *record)
{
  return record != nullptr ? record->proto.dropped_signals () : 0;
}

extern "C" void
dcp_record_get_unparsed_from_client (const DcpRecord *record, const void **bytes,
                                     size_t *n_bytes)
{
  const rec::FrozenConnection &proto =
      record != nullptr ? record->proto : rec::FrozenConnection::default_instance ();
  get_bytes (proto.unparsed_from_client (), bytes, n_bytes);
}

extern "C" void
dcp_record_get_unread_by_client (const DcpRecord *record, const void **bytes,
                                 size_t *n_bytes)
{
  const rec::FrozenConnection &proto =
      record != nullptr ? record->proto : rec::FrozenConnection::default_instance ();
  get_bytes (proto.unread_by_client (), bytes, n_bytes);
}

extern "C" int64_t
dcp_record_get_frozen_since_usec (const DcpRecord *record)
{
  return record != nullptr ? record->proto.frozen_since_usec () : 0;
}

/* ---- The state directory ---- */

extern "C" int
dcp_state_save (const char *dir, const DcpRecord *record)
{
  if (dir == nullptr || *dir == '\0' || record == nullptr)
    return -EINVAL;
  return guarded ([&] { return negative_errno (rec::save_record (dir, record->proto)); });
}

extern "C" int
dcp_state_check_dir (const char *dir, const char *bus_user, char **problem_out)
{
  if (dir == nullptr || *dir == '\0' || problem_out == nullptr)
    return -EINVAL;
  *problem_out = nullptr;
  return guarded ([&] {
    std::string problem = rec::unsafe_state_dir_problem (dir, bus_user ? bus_user : "");
    if (problem.empty ())
      return 0;
    *problem_out = malloced_copy (problem);
    return *problem_out != nullptr ? -EPERM : -ENOMEM;
  });
}

extern "C" int
dcp_state_remove (const char *dir, const char *checkpoint_id)
{
  if (dir == nullptr || *dir == '\0' || checkpoint_id == nullptr)
    return -EINVAL;
  return guarded ([&] { return negative_errno (rec::remove_record (dir, checkpoint_id)); });
}

extern "C" int
dcp_state_set_aside (const char *dir, const char *checkpoint_id)
{
  if (dir == nullptr || *dir == '\0' || checkpoint_id == nullptr)
    return -EINVAL;
  return guarded ([&] { return negative_errno (rec::set_record_aside (dir, checkpoint_id)); });
}

namespace {

// The test suite's slow disk (test/daemon: the bus answers while a record
// is being written): DCP_TEST_STATE_WRITE_DELAY_MS, read only in builds
// with the tests (-DDCP_TESTS=ON); packages are built without.
rec::StateWriter::Options
state_writer_options () noexcept
{
  rec::StateWriter::Options options;
#ifdef DCP_TEST_HOOKS
  if (const char *delay = std::getenv ("DCP_TEST_STATE_WRITE_DELAY_MS"))
    options.delay_each_write = std::chrono::milliseconds (std::atoi (delay));
#endif
  return options;
}

} // namespace

extern "C" DcpStateWriter *
dcp_state_writer_new (const char *dir, DcpStateWriterLogFunc log_failure, void *user_data)
{
  if (dir == nullptr || *dir == '\0' || log_failure == nullptr)
    return nullptr;
  try
    {
      auto log = [log_failure, user_data] (const std::string &sentence) {
        log_failure (user_data, sentence.c_str ());
      };
      return std::make_unique<DcpStateWriter> (dir, std::move (log), state_writer_options ())
          .release ();
    }
  catch (...)
    {
      return nullptr;
    }
}

extern "C" void
dcp_state_writer_free (DcpStateWriter *writer)
{
  delete writer;
}

extern "C" int
dcp_state_writer_save (DcpStateWriter *writer, DcpRecord *record)
{
  std::unique_ptr<DcpRecord> owned (record);
  if (writer == nullptr || record == nullptr)
    return -EINVAL;
  return guarded ([&] {
    writer->writer.save_later (std::move (owned->proto));
    return 0;
  });
}

extern "C" int
dcp_state_writer_save_now (DcpStateWriter *writer, const DcpRecord *record)
{
  if (writer == nullptr || record == nullptr)
    return -EINVAL;
  return guarded ([&] { return negative_errno (writer->writer.save_now (record->proto)); });
}

extern "C" int
dcp_state_writer_remove (DcpStateWriter *writer, const char *checkpoint_id)
{
  if (writer == nullptr || checkpoint_id == nullptr)
    return -EINVAL;
  return guarded ([&] { return negative_errno (writer->writer.remove (checkpoint_id)); });
}

extern "C" int
dcp_state_load_all (const char *dir, DcpStateLoadFunc func, void *user_data)
{
  if (dir == nullptr || *dir == '\0' || func == nullptr)
    return -EINVAL;
  return guarded ([&] {
    return negative_errno (rec::load_all_records (dir, [&] (rec::LoadedFile &&file) {
      return report_loaded_file (std::move (file), func, user_data);
    }));
  });
}

namespace {

// The test suite's LSM (test/daemon: this machine may have none):
// DCP_TEST_BUS_LSM_LABEL, read only in builds with the tests, makes the
// bus mediate as if its own label were that value.  nullptr otherwise.
const char *
test_bus_lsm_label () noexcept
{
#ifdef DCP_TEST_HOOKS
  return std::getenv ("DCP_TEST_BUS_LSM_LABEL");
#else
  return nullptr;
#endif
}

} // namespace

extern "C" int
dcp_adoption_check_label (int socket_fd, const char *recorded_label, int bus_mediates,
                          char **problem_out)
{
  if (socket_fd < 0 || problem_out == nullptr)
    return -EINVAL;
  *problem_out = nullptr;
  const char *test_label = test_bus_lsm_label ();
  if (!bus_mediates && test_label == nullptr)
    return 0;
  return guarded ([&] {
    std::string mediated_as;
    if (test_label != nullptr)
      mediated_as = test_label;
    else if (auto label = rec::socket_peer_label (socket_fd); label)
      mediated_as = std::move (label).value ();
    else
      {
        *problem_out = malloced_copy (label.error ().message);
        return *problem_out != nullptr ? label.error ().negative_errno () : -ENOMEM;
      }
    std::string problem = rec::adoption_label_problem (recorded_label ? recorded_label : "",
                                                       mediated_as);
    if (problem.empty ())
      return 0;
    *problem_out = malloced_copy (problem);
    return *problem_out != nullptr ? -EACCES : -ENOMEM;
  });
}
