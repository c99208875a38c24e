// Files the CLI writes and reads whole: exported records, the checkpoint
// directory's dbus-checkpoint.json, the records of stopped processes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "bus-client/result.hpp"
#include "record/unique_fd.hpp"

namespace dbus_checkpoint::cli {

// Creates or truncates `path` with `mode` (also when it existed) and
// writes all of `bytes`.
bus_client::Result<void> write_file(const std::filesystem::path &path, std::string_view bytes,
                                    mode_t mode);
// Writes PATH.tmp, then renames it over `path`: readers see the old file
// or the new one, never half of it.
bus_client::Result<void> replace_file(const std::filesystem::path &path, std::string_view bytes,
                                      mode_t mode);
bus_client::Result<std::string> read_whole_file(const std::filesystem::path &path);

// The bytes of the regular files directly in `dir`.
std::uint64_t directory_bytes(const std::filesystem::path &dir);

// An exclusive flock(2) on a directory, held while this lives; an error
// naming `holder_hint` if another process holds it.
class DirectoryLock {
 public:
  static bus_client::Result<DirectoryLock> take(const std::filesystem::path &dir,
                                                const std::string &holder_hint);

 private:
  explicit DirectoryLock(record::UniqueFd fd) : fd_(std::move(fd)) {}
  record::UniqueFd fd_;
};

} // namespace dbus_checkpoint::cli
