// SPDX-License-Identifier: GPL-2.0-or-later
// Files the CLI writes and reads whole: exported records, the checkpoint
// directory's dbus-checkpoint.json, the records of stopped processes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace dbus_checkpoint::cli {

// Writes PATH.tmp, then renames it over `path`: readers see the old file
// or the new one, never half of it.  The temporary file is created anew
// (O_EXCL, O_NOFOLLOW, in the opened parent directory): a symlink or a hard
// link planted under either name is replaced, never written through.
base::Result<void> replace_file(const std::filesystem::path &path, std::string_view bytes,
                                      mode_t mode);
// Refuses a symlink as the last component.
base::Result<std::string> read_whole_file(const std::filesystem::path &path);

// A directory root may work in (CRIU's images, the records of stopped
// processes): not a symlink, owned by root or by us, not writable by group
// or others, since whoever can write it could plant files that root then
// reads, runs or writes through.  With `create`, a missing one is made
// (mode 0700, its parents as needed).
base::Result<void> check_trusted_directory(const std::filesystem::path &dir, bool create);

// An exclusive flock(2) on a directory, held while this lives; an error
// naming `holder_hint` if another process holds it.
class DirectoryLock {
 public:
  static base::Result<DirectoryLock> take(const std::filesystem::path &dir,
                                                const std::string &holder_hint);

 private:
  explicit DirectoryLock(base::UniqueFd fd) : fd_(std::move(fd)) {}
  base::UniqueFd fd_;
};

} // namespace dbus_checkpoint::cli
