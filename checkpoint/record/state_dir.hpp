// SPDX-License-Identifier: GPL-2.0-or-later
// The daemon's state directory (bus config <checkpoint_dir>): one file per
// frozen connection, DIR/<checkpoint_id>.record, so frozen names survive a
// daemon restart or a reboot.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <system_error>

#include "base/result.hpp"
#include "record/record.hpp"

namespace dbus_checkpoint::record {

inline constexpr std::string_view kRecordFileSuffix = ".record";
inline constexpr mode_t kRecordFileMode = 0600;
inline constexpr mode_t kStateDirMode = 0700;

// "<checkpoint_id>.record"
std::string record_file_name(std::string_view checkpoint_id);

// Writes DIR/<id>.record atomically: a reader sees the old file or the new
// one, never a mix, even across a crash.  Creates DIR (kStateDirMode) and
// its missing parents (like mkdir -p).  The record must pass validate().
base::Status save_record(const std::string &dir, const FrozenConnection &record) noexcept;

// Why the daemon must not use DIR (empty: it may, also when DIR does not
// exist yet): a symlink, not a directory, owned by neither root, the
// daemon, nor `bus_user` (the bus config's <user>, may be empty), or
// writable by group or others.  Whoever can write DIR can plant records,
// that is names, credentials and messages of their choosing.
std::string unsafe_state_dir_problem(const std::string &dir, const std::string &bus_user);

// Renames DIR/<id>.record to DIR/<id>.other-boot: kept, no longer loaded.
base::Status set_record_aside(const std::string &dir, std::string_view checkpoint_id) noexcept;

// Removes DIR/<id>.record; a missing file or directory is not an error.
base::Status remove_record(const std::string &dir, std::string_view checkpoint_id) noexcept;

// One record file as found by load_all_records(): its record, or why it is
// not usable (a record whose id does not match its file name is not).
struct LoadedFile {
  std::string path;
  base::Result<FrozenConnection> decoded;  // as decode() says, or why the file is unusable
};

// Returning an error stops load_all_records(), which then returns it.
using LoadVisitor = std::function<base::Status(LoadedFile &&file)>;

// Visits every DIR/*.record file in name order; other files (temporary files
// of an interrupted save among them) are ignored.  A missing DIR holds no
// records; only a DIR that cannot be listed is an error.
base::Status load_all_records(const std::string &dir, const LoadVisitor &visit) noexcept;

} // namespace dbus_checkpoint::record
