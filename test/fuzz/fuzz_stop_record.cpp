// SPDX-License-Identifier: GPL-2.0-or-later
// The CLI's reader of freeze --in-place's stop records: never crashes, and
// what it accepts is formatted and parsed back to the same record.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/stop_record.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  using namespace dbus_checkpoint::cli;
  const std::string text(reinterpret_cast<const char *>(data), size);
  const auto stopped = parse_stop_record(text);
  if (!stopped)
    return 0;
  const auto again = parse_stop_record(format_stop_record("0123456789abcdef0123456789abcdef", *stopped));
  dcp::fuzz::require(again.has_value(), "a formatted stop record parses");
  dcp::fuzz::require(*again == *stopped, "to the same record");
  return 0;
}
