// SPDX-License-Identifier: GPL-2.0-or-later
#include "record_abi.hpp"

#include <cstdlib>
#include <cstring>

namespace dbus_checkpoint::criu_plugin {
namespace {

struct MallocFree {
  void operator()(void *p) const noexcept { std::free(p); }
};

} // namespace

base::Status parse_record(std::string_view bytes, Record &record_out)
{
  DcpRecord *record = nullptr;
  char *error = nullptr;
  int r = dcp_record_parse(bytes.data(), bytes.size(), &record, &error);
  std::unique_ptr<char, MallocFree> owned_error(error);
  if (r < 0)
    return base::failure(-r, std::string("bad record: ") +
                                    (error != nullptr ? error : std::strerror(-r)));
  record_out.reset(record);
  return {};
}

base::Status serialize_record(const DcpRecord *record, std::string &bytes_out)
{
  void *bytes = nullptr;
  std::size_t n_bytes = 0;
  int r = dcp_record_serialize(record, &bytes, &n_bytes);
  std::unique_ptr<void, MallocFree> owned(bytes);
  if (r < 0)
    return base::failure(-r, std::string("cannot serialize the record: ") + std::strerror(-r));
  bytes_out.assign(static_cast<const char *>(bytes), n_bytes);
  return {};
}

} // namespace dbus_checkpoint::criu_plugin
