// SPDX-License-Identifier: GPL-2.0-or-later
// The frozen-connection record through the library's C ABI
// (dbus-checkpoint/bus-abi.h), owned.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "dbus-checkpoint/bus-abi.h"
#include "raw-bus/raw_bus.hpp"

namespace dbus_checkpoint::criu_plugin {

struct RecordFree {
  void operator()(DcpRecord *record) const noexcept { dcp_record_free(record); }
};
using Record = std::unique_ptr<DcpRecord, RecordFree>;

// Parsed and validated; a bad record's failure says what is wrong.
base::Status parse_record(std::string_view bytes, Record &record_out);
base::Status serialize_record(const DcpRecord *record, std::string &bytes_out);

} // namespace dbus_checkpoint::criu_plugin
