// SPDX-License-Identifier: GPL-2.0-or-later
// The CLI's reader of dbus-checkpoint.json (restore trusts nothing in it):
// never crashes, a refusal says why, and what it accepts is written and
// read back to the same manifest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/manifest.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  using namespace dbus_checkpoint::cli;
  auto manifest = parse_manifest(std::string_view(reinterpret_cast<const char *>(data), size));
  if (!manifest) {
    dcp::fuzz::require(!manifest.error().message.empty(), "a refused manifest says why");
    return 0;
  }
  const std::string text = manifest_json(manifest.value());
  auto again = parse_manifest(text);
  dcp::fuzz::require(again.ok(), "a written manifest reads back");
  dcp::fuzz::require(manifest_json(again.value()) == text, "and writes the same");
  return 0;
}
