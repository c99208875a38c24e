// SPDX-License-Identifier: GPL-2.0-or-later
// What `criu --version` printed, kept for the next command: running it
// costs a criu start-up (25-45 ms here: 25 shared libraries) in front of
// every checkpoint and restore.  The answer is kept per executable file,
// told apart by device, inode, size, modification and change time: a
// replaced or rebuilt criu is asked again.  The file lives in the run
// directory of stop records (root's, 0700, checked like them).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace dbus_checkpoint::cli {

// The key of the executable file now; "" if it cannot be stat()ed.
std::string criu_file_key(const std::filesystem::path &executable);

// The output kept for `executable` in `dir`, if its key still matches.
std::optional<std::string> cached_criu_version(const std::filesystem::path &dir,
                                               const std::filesystem::path &executable);
// Keeps `output` for `executable`; failures are ignored (the cache only
// saves time).
void keep_criu_version(const std::filesystem::path &dir, const std::filesystem::path &executable,
                       const std::string &output);

} // namespace dbus_checkpoint::cli
