// SPDX-License-Identifier: GPL-2.0-or-later
#include "record/validate.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <string>
#include <unordered_set>
#include <utility>

#include "record/checkpoint_id.hpp"
#include "record/record.hpp"

namespace dbus_checkpoint::record {

using base::Status;

namespace {

// A record that is not as it must be: EINVAL and the sentence saying why.
base::Error invalid(std::string sentence)
{
  return base::failure(EINVAL, std::move(sentence));
}

std::string indexed(std::string_view field, std::size_t index)
{
  return std::string(field) + "[" + std::to_string(index) + "]";
}

std::string too_many(std::string_view field, std::size_t count, std::size_t limit)
{
  return std::string(field) + " has " + std::to_string(count) +
         " entries, more than the " + std::to_string(limit) + " allowed";
}

std::string too_long(std::string_view field, std::size_t n_bytes, std::size_t limit)
{
  return std::string(field) + " is " + std::to_string(n_bytes) +
         " bytes long, more than the " + std::to_string(limit) + " allowed";
}

bool is_name_char(char c) noexcept
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-';
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Dot-separated elements of [A-Za-z0-9_-], at least two, none empty; in
// well-known names no element starts with a digit.
bool has_bus_name_elements(std::string_view elements, bool digit_may_start) noexcept
{
  std::size_t n_dots = 0;
  std::size_t element_length = 0;
  for (char c : elements) {
    if (c == '.') {
      if (element_length == 0)
        return false;
      ++n_dots;
      element_length = 0;
    } else if (!is_name_char(c) || (element_length == 0 && !digit_may_start && is_digit(c))) {
      return false;
    } else {
      ++element_length;
    }
  }
  return element_length > 0 && n_dots >= 1;
}

struct Utf8Sequence {
  std::size_t n_continuation_bytes;
  unsigned char lead_bits_mask;
  char32_t min_code_point;
};

std::optional<Utf8Sequence> utf8_sequence_started_by(unsigned char lead) noexcept
{
  if (lead < 0x80)
    return Utf8Sequence{0, 0x7f, 0};
  if ((lead & 0xe0) == 0xc0)
    return Utf8Sequence{1, 0x1f, 0x80};
  if ((lead & 0xf0) == 0xe0)
    return Utf8Sequence{2, 0x0f, 0x800};
  if ((lead & 0xf8) == 0xf0)
    return Utf8Sequence{3, 0x07, 0x10000};
  return {};
}

// Each of `items` passes `check`, and there are at most `limit` of them.
template <typename Items, typename Check>
Status check_each(const Items &items, std::string_view field, std::size_t limit, Check &&check)
{
  if (static_cast<std::size_t>(items.size()) > limit)
    return invalid(too_many(field, items.size(), limit));
  for (int i = 0; i < items.size(); ++i)
    if (auto problem = check(items.Get(i), static_cast<std::size_t>(i)); !problem)
      return problem;
  return {};
}

// The lite runtime keeps unknown fields but has no public accessor for them;
// a pointer to the protected member, taken inside a derived class, is the
// standard-conforming way to read it.
struct UnknownFieldsPeek : google::protobuf::MessageLite {
  static bool any_in(const google::protobuf::MessageLite &message)
  {
    const auto &metadata = message.*(&UnknownFieldsPeek::_internal_metadata_);
    return !metadata.unknown_fields<std::string>(&google::protobuf::internal::GetEmptyString)
                .empty();
  }
};

std::string unknown_fields_problem(std::string_view where)
{
  return "record has fields this version does not know (in " + std::string(where) + ")";
}

Status unknown_fields_in(const google::protobuf::MessageLite &message, std::string_view where)
{
  if (!UnknownFieldsPeek::any_in(message))
    return {};
  return invalid(unknown_fields_problem(where));
}

template <typename Items>
Status unknown_fields_in_each(const Items &items, std::string_view field)
{
  auto check = [field](const google::protobuf::MessageLite &item, std::size_t index) -> Status {
    if (!UnknownFieldsPeek::any_in(item))
      return {};
    return invalid(unknown_fields_problem(indexed(field, index)));
  };
  return check_each(items, field, std::numeric_limits<std::size_t>::max(), check);
}

Status check_unknown_fields(const FrozenConnection &record)
{
  if (auto problem = unknown_fields_in(record, "the top-level message"); !problem)
    return problem;
  if (auto problem = unknown_fields_in_each(record.names(), "names"); !problem)
    return problem;
  if (auto problem =
          unknown_fields_in_each(record.replies_owed_by_connection(), "replies_owed_by_connection"); !problem)
    return problem;
  if (auto problem =
          unknown_fields_in_each(record.replies_owed_to_connection(), "replies_owed_to_connection"); !problem)
    return problem;
  if (auto problem = unknown_fields_in_each(record.queued(), "queued"); !problem)
    return problem;
  if (record.has_credentials())
    return unknown_fields_in(record.credentials(), "credentials");
  return {};
}

Status check_format_version(std::uint32_t version)
{
  if (version == kFormatVersion)
    return {};
  return invalid("format_version is " + std::to_string(version) + ", but this version reads only format " +
         std::to_string(kFormatVersion));
}

Status check_names(const FrozenConnection &record)
{
  const auto &names = record.names();
  if (auto problem = check_each(names, "names", kMaxOwnedNames, check_owned_name); !problem)
    return problem;
  std::unordered_set<std::string_view> seen;
  for (int i = 0; i < names.size(); ++i)
    if (!seen.insert(names.Get(i).name()).second)
      return invalid(indexed("names", i) + ".name " + quoted_value(names.Get(i).name()) +
             " is listed more than once");
  return {};
}

Status check_pending_replies(const FrozenConnection &record)
{
  for (const auto &[replies, field] :
       {std::pair{&record.replies_owed_by_connection(), "replies_owed_by_connection"},
        std::pair{&record.replies_owed_to_connection(), "replies_owed_to_connection"}}) {
    auto check = [field = field](const v1::PendingReply &reply, std::size_t index) {
      return check_pending_reply(reply, field, index);
    };
    if (auto problem = check_each(*replies, field, kMaxPendingReplies, check); !problem)
      return problem;
  }
  return {};
}

} // namespace

Status validate(const FrozenConnection &record)
{
  // The version first: a newer format's record gets that explanation rather
  // than a complaint about whatever field changed meaning.
  if (auto problem = check_format_version(record.format_version()); !problem)
    return problem;
  if (auto problem = check_unknown_fields(record); !problem)
    return problem;
  if (auto problem = check_checkpoint_id(record.checkpoint_id()); !problem)
    return problem;
  if (auto problem = check_unique_name("unique_name", record.unique_name()); !problem)
    return problem;
  if (auto problem = check_names(record); !problem)
    return problem;
  if (auto problem =
          check_each(record.match_rules(), "match_rules", kMaxMatchRules, check_match_rule); !problem)
    return problem;
  if (auto problem = check_pending_replies(record); !problem)
    return problem;
  if (!record.has_credentials())
    return invalid(std::string("credentials are missing"));
  if (auto problem = check_credentials(record.credentials()); !problem)
    return problem;
  if (auto problem =
          check_each(record.queued(), "queued", kMaxQueuedMessages, check_queued_message); !problem)
    return problem;
  if (auto problem = check_stream_bytes("unparsed_from_client", record.unparsed_from_client()); !problem)
    return problem;
  if (auto problem = check_stream_bytes("unread_by_client", record.unread_by_client()); !problem)
    return problem;
  if (auto problem = check_frozen_since(record.frozen_since_usec()); !problem)
    return problem;
  if (auto problem = check_reattach_secret(record.reattach_secret()); !problem)
    return problem;
  return check_boot_id(record.boot_id());
}

Status check_record_size(std::size_t n_bytes)
{
  if (n_bytes <= kMaxRecordBytes)
    return {};
  return invalid(too_long("record", n_bytes, kMaxRecordBytes));
}

namespace {

// Protobuf's wire format, only as far as counting needs it.
class WireScanner {
 public:
  explicit WireScanner(std::string_view bytes) : rest_(bytes) {}
  bool done() const { return rest_.empty(); }

  bool varint(std::uint64_t &value)
  {
    value = 0;
    for (int shift = 0; shift < 64 && !rest_.empty(); shift += 7) {
      const auto byte = static_cast<unsigned char>(rest_.front());
      rest_.remove_prefix(1);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0)
        return true;
    }
    return false;
  }

  // The next field: its number, and its payload if length-delimited.
  bool field(std::uint32_t &number, std::string_view &payload)
  {
    std::uint64_t key = 0, value = 0;
    if (!varint(key))
      return false;
    number = static_cast<std::uint32_t>(key >> 3);
    payload = {};
    switch (key & 7) {
      case 0:
        return varint(value);
      case 1:
        return skip(8);
      case 2:
        if (!varint(value) || value > rest_.size())
          return false;
        payload = rest_.substr(0, value);
        rest_.remove_prefix(value);
        return true;
      case 5:
        return skip(4);
      default:
        return false;
    }
  }

 private:
  bool skip(std::size_t n)
  {
    if (n > rest_.size())
      return false;
    rest_.remove_prefix(n);
    return true;
  }
  std::string_view rest_;
};

// Gids in the credentials: packed (one payload of varints) or not.
std::size_t count_gids(std::string_view credentials)
{
  std::size_t count = 0;
  WireScanner scanner(credentials);
  std::uint32_t number = 0;
  std::string_view payload;
  while (!scanner.done() && scanner.field(number, payload)) {
    if (number != 2)
      continue;
    if (payload.empty()) {
      ++count;
      continue;
    }
    WireScanner packed(payload);
    std::uint64_t gid = 0;
    while (!packed.done() && packed.varint(gid))
      ++count;
  }
  return count;
}

} // namespace

Status check_entry_counts(std::string_view bytes)
{
  struct Repeated {
    std::uint32_t number;
    const char *field;
    std::size_t limit;
    std::size_t count;
  };
  Repeated repeated[] = {{4, "names", kMaxOwnedNames, 0},
                         {5, "match_rules", kMaxMatchRules, 0},
                         {6, "replies_owed_by_connection", kMaxPendingReplies, 0},
                         {7, "replies_owed_to_connection", kMaxPendingReplies, 0},
                         {11, "queued", kMaxQueuedMessages, 0}};
  std::size_t gids = 0;
  WireScanner scanner(bytes);
  std::uint32_t number = 0;
  std::string_view payload;
  while (!scanner.done() && scanner.field(number, payload)) {
    if (number == 9)
      gids += count_gids(payload);
    for (Repeated &r : repeated)
      if (r.number == number && ++r.count > r.limit)
        return invalid(too_many(r.field, r.count, r.limit) + " (or more)");
  }
  if (gids > kMaxGids)
    return invalid(too_many("credentials.gids", gids, kMaxGids));
  return {};
}

Status check_reattach_secret(std::string_view secret)
{
  // the same shape as an id: 128 random bits in hex
  if (secret.empty() || is_valid_checkpoint_id(secret))
    return {};
  return invalid("reattach_secret is not " + std::to_string(kCheckpointIdLength) +
         " lowercase hex digits");
}

Status check_boot_id(std::string_view boot_id)
{
  // a UUID as the kernel writes it, or empty (not known)
  const bool is_uuid = boot_id.size() == 36 &&
                       std::all_of(boot_id.begin(), boot_id.end(), [](char c) {
                         return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
                       });
  if (boot_id.empty() || is_uuid)
    return {};
  return invalid("boot_id " + quoted_value(boot_id) + " is not a boot id");
}

Status check_checkpoint_id(std::string_view id)
{
  if (is_valid_checkpoint_id(id))
    return {};
  return invalid("checkpoint_id " + quoted_value(id) + " is not " + std::to_string(kCheckpointIdLength) +
         " lowercase hex digits");
}

Status check_unique_name(std::string_view field, std::string_view name)
{
  if (is_valid_unique_name(name))
    return {};
  return invalid(std::string(field) + " " + quoted_value(name) + " is not a valid D-Bus unique name");
}

Status check_owned_name(const v1::OwnedName &name, std::size_t index)
{
  // Built only for the sentence: valid items are the common case.
  const auto field = [&] { return indexed("names", index); };
  if (name.name() == kBusDriverName)
    return invalid(field() + ".name is " + quoted_value(name.name()) +
           ", which only the bus itself may own");
  if (name.name().starts_with(':'))
    return invalid(field() + ".name " + quoted_value(name.name()) +
           " is a unique name; only well-known names are owned");
  if (!is_valid_well_known_name(name.name()))
    return invalid(field() + ".name " + quoted_value(name.name()) +
           " is not a valid well-known bus name");
  if ((name.flags() & ~kAllowedNameFlags) != 0) {
    char flags[16];
    std::snprintf(flags, sizeof flags, "0x%x", name.flags());
    return invalid(field() + ".flags " + flags + " has bits other than ALLOW_REPLACEMENT, " +
           "REPLACE_EXISTING and DO_NOT_QUEUE");
  }
  return {};
}

Status check_match_rule(std::string_view rule, std::size_t index)
{
  // Built only for the sentence: valid items are the common case.
  const auto field = [&] { return indexed("match_rules", index); };
  if (rule.empty())
    return invalid(field() + " is empty");
  if (rule.size() > kMaxMatchRuleBytes)
    return invalid(too_long(field(), rule.size(), kMaxMatchRuleBytes) + ": " + quoted_value(rule));
  if (rule.find('\0') != std::string_view::npos)
    return invalid(field() + " " + quoted_value(rule) + " contains a NUL byte");
  if (!is_valid_utf8(rule))
    return invalid(field() + " " + quoted_value(rule) + " is not valid UTF-8");
  return {};
}

Status check_pending_reply(const v1::PendingReply &reply, std::string_view field,
                            std::size_t index)
{
  // Built only for the sentence: valid items are the common case.
  const auto item = [&] { return indexed(field, index); };
  if (!is_valid_unique_name(reply.peer()))
    return check_unique_name(item() + ".peer", reply.peer());
  if (reply.serial() == 0)
    return invalid(item() + ".serial is 0, which no message has");
  if (reply.remaining_timeout_ms() < kNoTimeout)
    return invalid(item() + ".remaining_timeout_ms is " + std::to_string(reply.remaining_timeout_ms()) +
           "; it must be -1 (no timeout) or at least 0");
  return {};
}

Status check_credentials(const v1::Credentials &credentials)
{
  if (static_cast<std::size_t>(credentials.gids_size()) > kMaxGids)
    return invalid(too_many("credentials.gids", credentials.gids_size(), kMaxGids));
  const std::string &label = credentials.security_label();
  if (label.size() > kMaxSecurityLabelBytes)
    return invalid(too_long("credentials.security_label", label.size(), kMaxSecurityLabelBytes));
  if (label.find('\0') != std::string::npos)
    return invalid("credentials.security_label " + quoted_value(label) + " contains a NUL byte");
  return {};
}

Status check_queued_message(const v1::QueuedMessage &message, std::size_t index)
{
  // Built only for the sentence: valid items are the common case.
  const auto field = [&] { return indexed("queued", index) + ".marshalled"; };
  const std::string &bytes = message.marshalled();
  if (bytes.size() < kMinMessageBytes)
    return invalid(field() + " is " + std::to_string(bytes.size()) + " bytes long, shorter than the " +
           std::to_string(kMinMessageBytes) + "-byte minimum of a D-Bus message");
  if (bytes.size() > kMaxMessageBytes)
    return invalid(too_long(field(), bytes.size(), kMaxMessageBytes));
  const auto endianness = static_cast<unsigned char>(bytes[0]);
  const auto type = static_cast<unsigned char>(bytes[1]);
  const auto protocol_version = static_cast<unsigned char>(bytes[3]);
  if (endianness != 'l' && endianness != 'B')
    return invalid(field() + " starts with byte " + quoted_value(bytes.substr(0, 1)) +
           ", not an endianness mark ('l' or 'B')");
  if (type < 1 || type > 4)
    return invalid(field() + " has message type " + std::to_string(type) +
           "; D-Bus message types are 1 to 4");
  if (protocol_version != 1)
    return invalid(field() + " has protocol version " + std::to_string(protocol_version) + ", not 1");
  return {};
}

Status check_stream_bytes(std::string_view field, std::string_view bytes)
{
  if (bytes.size() <= kMaxStreamBytes)
    return {};
  return invalid(too_long(field, bytes.size(), kMaxStreamBytes));
}

Status check_frozen_since(std::int64_t usec)
{
  if (usec >= 0)
    return {};
  return invalid("frozen_since_usec is " + std::to_string(usec) + ", before 1970");
}

bool is_valid_unique_name(std::string_view name) noexcept
{
  return name.size() <= kMaxBusNameBytes && name.starts_with(':') &&
         has_bus_name_elements(name.substr(1), true);
}

bool is_valid_well_known_name(std::string_view name) noexcept
{
  return name.size() <= kMaxBusNameBytes && has_bus_name_elements(name, false);
}

bool is_valid_utf8(std::string_view text) noexcept
{
  const auto *p = reinterpret_cast<const unsigned char *>(text.data());
  const auto *end = p + text.size();
  while (p < end) {
    const auto sequence = utf8_sequence_started_by(*p);
    if (!sequence || static_cast<std::size_t>(end - p) <= sequence->n_continuation_bytes)
      return false;
    char32_t code_point = *p & sequence->lead_bits_mask;
    for (std::size_t i = 1; i <= sequence->n_continuation_bytes; ++i) {
      if ((p[i] & 0xc0) != 0x80)
        return false;
      code_point = (code_point << 6) | (p[i] & 0x3f);
    }
    const bool is_surrogate = code_point >= 0xd800 && code_point <= 0xdfff;
    // Overlong forms would let one character have several spellings.
    if (code_point < sequence->min_code_point || code_point > 0x10ffff || is_surrogate)
      return false;
    p += sequence->n_continuation_bytes + 1;
  }
  return true;
}

std::string quoted_value(std::string_view value)
{
  const std::string_view shown = value.substr(0, kMaxQuotedValueBytes);
  std::string out = "\"";
  for (unsigned char c : shown) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (shown.size() < value.size())
    out += "... (" + std::to_string(value.size()) + " bytes)";
  return out;
}

} // namespace dbus_checkpoint::record
