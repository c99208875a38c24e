// SPDX-License-Identifier: GPL-2.0-or-later
// The CRIU plugin's restore path on a hostile images directory: the record
// file (written and read back through image_files, as dump and restore do)
// is parsed, and what it accepts becomes the Reattach call the plugin
// sends, which must marshal and demarshal.  The bytes are also read as a
// D-Bus message, as raw_bus frames what comes off a socket.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "criu-plugin/image_files.hpp"
#include "criu-plugin/record_abi.hpp"
#include "fuzz_support.hpp"
#include "raw-bus/raw_bus.hpp"

namespace plugin = dbus_checkpoint::criu_plugin;
namespace raw_bus = dbus_checkpoint::raw_bus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  const std::string_view input(reinterpret_cast<const char *>(data), size);
  static const int images_dir = [] {
    const std::string dir = dcp::fuzz::scratch_dir() + "/images";
    mkdir(dir.c_str(), 0700);
    return open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }();
  dcp::fuzz::require(images_dir >= 0, "open the images directory");

  const std::string name = plugin::record_file_name(4242);
  unlinkat(images_dir, name.c_str(), 0);
  dcp::fuzz::require(plugin::write_image_file(images_dir, name, input).ok(), "write the image file");
  std::string bytes;
  dcp::fuzz::require(plugin::read_image_file(images_dir, name, bytes).ok(), "read it back");
  dcp::fuzz::require(bytes == input, "the same bytes");

  plugin::Record record;
  if (plugin::parse_record(bytes, record).ok()) {
    const void *unread = nullptr;
    std::size_t n_unread = 0;
    dcp_record_get_unread_by_client(record.get(), &unread, &n_unread);
    raw_bus::Message call = raw_bus::new_reattach_call(
        dcp_record_get_checkpoint_id(record.get()),
        std::string_view(static_cast<const char *>(unread), n_unread),
        dcp_record_get_reattach_secret(record.get()));
    dcp::fuzz::require(call != nullptr, "a Reattach call");
    std::string wire;
    dcp::fuzz::require(raw_bus::marshal(call.get(), 2, wire).ok(), "it marshals");
    raw_bus::Message back;
    dcp::fuzz::require(raw_bus::demarshal(wire, back).ok(), "and demarshals");
  }

  if (size >= raw_bus::kFixedHeaderLength &&
      raw_bus::message_length(input.substr(0, raw_bus::kFixedHeaderLength)) == size) {
    raw_bus::Message message;
    (void)raw_bus::demarshal(input, message);
  }
  return 0;
}
