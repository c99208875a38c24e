// SPDX-License-Identifier: GPL-2.0-or-later
#include "record/record.hpp"

#include <mutex>
#include <new>

#include <google/protobuf/stubs/logging.h>

#include "record/validate.hpp"

namespace dbus_checkpoint::record {
namespace {

// protobuf logs each refused string to stderr ("String field contains
// invalid UTF-8 data …"): that is the bus's log, and a caller of Import
// would write a line there per field.  decode()'s message says it already.
void silence_protobuf_log()
{
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(nullptr); });
}

Decoded parse_and_validate(std::string_view bytes)
{
  if (auto problem = check_record_size(bytes.size()))
    return Decoded::failure(std::errc::invalid_argument, std::move(*problem));
  if (auto problem = check_entry_counts(bytes))
    return Decoded::failure(std::errc::invalid_argument, std::move(*problem));
  silence_protobuf_log();
  Decoded decoded;
  // ParseFromArray takes an int length; check_record_size keeps it in range.
  if (!decoded.record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return Decoded::failure(std::errc::invalid_argument,
                            "record is not a valid FrozenConnection protobuf (truncated, "
                            "corrupt, or a string field that is not UTF-8)");
  if (auto problem = validate(decoded.record))
    return Decoded::failure(std::errc::invalid_argument, std::move(*problem));
  return decoded;
}

} // namespace

std::error_code encode(const FrozenConnection &record, std::string &bytes_out) noexcept
{
  try {
    if (validate(record))
      return std::make_error_code(std::errc::invalid_argument);
    if (check_record_size(record.ByteSizeLong()))
      return std::make_error_code(std::errc::file_too_large);
    std::string bytes;
    if (!record.SerializeToString(&bytes))
      return std::make_error_code(std::errc::invalid_argument);
    bytes_out = std::move(bytes);
    return {};
  } catch (const std::bad_alloc &) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

Decoded decode(std::string_view bytes) noexcept
{
  try {
    return parse_and_validate(bytes);
  } catch (const std::bad_alloc &) {
    return Decoded::failure(std::errc::not_enough_memory, {});
  }
}

} // namespace dbus_checkpoint::record
