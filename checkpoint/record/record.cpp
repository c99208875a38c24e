// SPDX-License-Identifier: GPL-2.0-or-later
#include "record/record.hpp"

#include <cerrno>
#include <fcntl.h>
#include <mutex>
#include <new>

#include <google/protobuf/stubs/logging.h>

#include "base/files.hpp"
#include "base/unique_fd.hpp"
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

base::Result<FrozenConnection> parse_and_validate(std::string_view bytes)
{
  if (auto problem = check_record_size(bytes.size()); !problem)
    return problem.error();
  if (auto problem = check_entry_counts(bytes); !problem)
    return problem.error();
  silence_protobuf_log();
  FrozenConnection record;
  // ParseFromArray takes an int length; check_record_size keeps it in range.
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return base::failure(EINVAL, "record is not a valid FrozenConnection protobuf (truncated, "
                                 "corrupt, or a string field that is not UTF-8)");
  if (auto problem = validate(record); !problem)
    return problem.error();
  return record;
}

} // namespace

base::Result<std::string> encode(const FrozenConnection &record) noexcept
{
  try {
    if (auto problem = validate(record); !problem)
      return problem.error();
    if (auto problem = check_record_size(record.ByteSizeLong()); !problem)
      return base::failure(EFBIG, problem.error().message);
    std::string bytes;
    if (!record.SerializeToString(&bytes))
      return base::failure(EINVAL, "the record cannot be serialized");
    return bytes;
  } catch (const std::bad_alloc &) {
    return base::failure(ENOMEM, {});
  }
}

base::Result<FrozenConnection> decode(std::string_view bytes) noexcept
{
  try {
    return parse_and_validate(bytes);
  } catch (const std::bad_alloc &) {
    return base::failure(ENOMEM, {});
  }
}

std::string current_boot_id()
{
  base::UniqueFd file(::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC));
  std::string boot_id;
  if (!file || base::read_at_most(file.get(), 64, boot_id))
    return {};
  if (!boot_id.empty() && boot_id.back() == '\n')
    boot_id.pop_back();
  return check_boot_id(boot_id) ? boot_id : std::string();
}

bool restored_at_start_up(const FrozenConnection &record)
{
  if (record.keep_across_reboot() || record.boot_id().empty())
    return true;
  const std::string now = current_boot_id();
  return now.empty() || now == record.boot_id();
}

} // namespace dbus_checkpoint::record
