// SPDX-License-Identifier: GPL-2.0-or-later
// The daemon's start-up loader, dcp_state_load_all(), on a state directory
// holding one record file with the input's bytes: never crashes, reports
// each file once, as a record or with a reason.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dbus-checkpoint/bus-abi.h"
#include "fuzz_support.hpp"

namespace {

constexpr char kRecordFile[] = "0123456789abcdef0123456789abcdef.record";

int count_file(void *user_data, const char *path, DcpRecord *record, const char *error_message)
{
  dcp::fuzz::require(path != nullptr, "a path");
  dcp::fuzz::require((record == nullptr) != (error_message == nullptr),
                     "a record or a reason, not both");
  dcp_record_free(record);
  ++*static_cast<int *>(user_data);
  return 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
  const std::string dir = dcp::fuzz::scratch_dir() + "/state";
  mkdir(dir.c_str(), 0700);
  const std::string file = dir + "/" + kRecordFile;
  const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  dcp::fuzz::require(fd >= 0, "open the record file");
  dcp::fuzz::require(write(fd, data, size) == static_cast<ssize_t>(size), "write the record file");
  close(fd);
  int files = 0;
  const int loaded = dcp_state_load_all(dir.c_str(), count_file, &files);
  dcp::fuzz::require(loaded == 0 || loaded == -ENOMEM, "load_all fails only for memory");
  dcp::fuzz::require(loaded != 0 || files == 1, "the one file reported once");
  unlink(file.c_str());
  return 0;
}
