// SPDX-License-Identifier: GPL-2.0-or-later
// Validation of a frozen-connection record (DESIGN.md §2).
//
// A record may come from another boot, another host or an attacker
// (Checkpoint.Import takes any bytes), so every field is checked before the
// daemon acts on it.  A problem is reported as one English sentence naming
// the field, its index and the offending value: the message of a
// base::Status whose errno is EINVAL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "record/record.hpp"

namespace dbus_checkpoint::record {

// Bounds from the D-Bus specification and the reference daemon.
inline constexpr std::size_t kMaxBusNameBytes = 255;     // DBUS_MAXIMUM_NAME_LENGTH
inline constexpr std::size_t kMaxMatchRuleBytes = 1024;  // DBUS_MAXIMUM_MATCH_RULE_LENGTH
inline constexpr std::size_t kMaxMessageBytes = 128u << 20; // DBUS_MAXIMUM_MESSAGE_LENGTH
// The fixed header (12 bytes) plus the length of the header-field array.
inline constexpr std::size_t kMinMessageBytes = 16;
inline constexpr std::string_view kBusDriverName = "org.freedesktop.DBus";
// DBUS_NAME_FLAG_ALLOW_REPLACEMENT | _REPLACE_EXISTING | _DO_NOT_QUEUE
inline constexpr std::uint32_t kAllowedNameFlags = 0x1 | 0x2 | 0x4;
inline constexpr std::int64_t kNoTimeout = -1;

// Bounds of our own: far above what a real connection holds, low enough that
// a hostile record cannot make the daemon allocate without limit.
inline constexpr std::size_t kMaxOwnedNames = 65536;
inline constexpr std::size_t kMaxMatchRules = 65536;
inline constexpr std::size_t kMaxPendingReplies = 65536; // in each direction
inline constexpr std::size_t kMaxGids = 65536;
inline constexpr std::size_t kMaxSecurityLabelBytes = 4096;
inline constexpr std::size_t kMaxQueuedMessages = 65536;  // a frozen queue holds 16,384 + replies
inline constexpr std::size_t kMaxStreamBytes = 128u << 20; // unparsed / unread bytes
inline constexpr std::size_t kMaxRecordBytes = 256u << 20; // the whole serialized record
// Offending values are quoted in error texts up to this many bytes.
inline constexpr std::size_t kMaxQuotedValueBytes = 64;

// Checks every field of `record`.  May throw std::bad_alloc (only while
// building the sentence); callers at the module's edges catch it.
base::Status validate(const FrozenConnection &record);

// The size check that comes before parsing: parsing a huge record would
// allocate before any field could be checked.
base::Status check_record_size(std::size_t n_bytes);

// Per-item checks, shared by validate() and the C ABI's setters so that a
// record built through the setters always passes validate().  `index` names
// the item in the sentence.
base::Status check_checkpoint_id(std::string_view id);
base::Status check_unique_name(std::string_view field, std::string_view name);
base::Status check_owned_name(const v1::OwnedName &name, std::size_t index);
base::Status check_match_rule(std::string_view rule, std::size_t index);
base::Status check_pending_reply(const v1::PendingReply &reply, std::string_view field,
                            std::size_t index);
base::Status check_credentials(const v1::Credentials &credentials);
base::Status check_queued_message(const v1::QueuedMessage &message, std::size_t index);
base::Status check_stream_bytes(std::string_view field, std::string_view bytes);
base::Status check_frozen_since(std::int64_t usec);
base::Status check_reattach_secret(std::string_view secret);
base::Status check_boot_id(std::string_view boot_id);

// The parse budget: counts the entries of each repeated field in the wire
// bytes of a FrozenConnection (and the gids of its credentials) without
// parsing them, so that a record of millions of empty entries is refused
// before the parser allocates an object for each.  Malformed bytes are left
// to the parser to refuse.
base::Status check_entry_counts(std::string_view bytes);

// The D-Bus specification's grammar for bus names.
bool is_valid_unique_name(std::string_view name) noexcept;
bool is_valid_well_known_name(std::string_view name) noexcept;
bool is_valid_utf8(std::string_view text) noexcept;

// `value` in double quotes, cut after kMaxQuotedValueBytes bytes (the
// sentence then says how long it was).  Every byte outside printable ASCII is
// escaped: the sentence becomes a D-Bus error text, which must be UTF-8.
std::string quoted_value(std::string_view value);

} // namespace dbus_checkpoint::record
