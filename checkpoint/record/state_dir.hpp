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
#include "base/unique_fd.hpp"
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

// save_record() in steps, for a writer that decides only at the end whether
// its bytes still replace DIR/<id>.record (StateWriter: a newer save or a
// remove may have come meanwhile).  write() creates DIR as save_record()
// does and leaves the bytes written and fsynced under a temporary name;
// destroyed before rename_into_place(), it removes that file.
class StagedRecordFile {
public:
  static base::Result<StagedRecordFile> write(const std::string &dir,
                                              std::string_view checkpoint_id,
                                              std::string_view bytes) noexcept;
  StagedRecordFile(StagedRecordFile &&other) noexcept = default;
  StagedRecordFile &operator=(StagedRecordFile &&other) = delete;
  ~StagedRecordFile();

  // DIR/<id>.record is now this file: atomic, durable only once synced.
  base::Status rename_into_place() noexcept;
  base::Status sync_directory() noexcept;

private:
  StagedRecordFile(base::UniqueFd dir_fd, std::string checkpoint_id, std::string temporary_name);

  base::UniqueFd dir_fd_;
  std::string checkpoint_id_;
  std::string temporary_name_;  // empty once renamed
};

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
