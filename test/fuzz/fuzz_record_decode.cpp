// SPDX-License-Identifier: GPL-2.0-or-later
// record::decode() on any bytes: never crashes, and what it accepts encodes
// and decodes again to the same record.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "record/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  using namespace dbus_checkpoint::record;
  const auto decoded = decode(std::string_view(reinterpret_cast<const char *>(data), size));
  if (!decoded) {
    dcp::fuzz::require(!decoded.error().message.empty(), "a refused record says why");
    return 0;
  }
  const auto bytes = encode(decoded.value());
  dcp::fuzz::require(bytes.ok(), "a decoded record encodes");
  const auto again = decode(bytes.value());
  dcp::fuzz::require(again.ok(), "an encoded record decodes");
  dcp::fuzz::require(again.value().SerializeAsString() == decoded.value().SerializeAsString(),
                     "decode(encode(r)) == r");
  return 0;
}
