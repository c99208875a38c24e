// SPDX-License-Identifier: GPL-2.0-or-later
// Which processes `freeze --in-place` stopped, kept in a small file per
// checkpoint id so that `thaw ID` and `discard ID`, run later and from
// another invocation, resume exactly those.
//
// Why a file and not ListFrozen's pid plus /proc: a process in state T
// may have been stopped by a debugger or by job control, not by us;
// ListFrozen names only the owner, not the children we stopped; and a
// frozen cgroup says nothing about who froze it.  The file records what
// this program changed, with each process's start time so that a reused
// pid is never resumed.  It lives under /run (a tmpfs): after a reboot the
// processes it names are gone anyway, and so is it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "cli/in_place.hpp"

namespace dbus_checkpoint::cli {

// $DBUS_CHECKPOINT_RUN_DIR if set, else /run/dbus-checkpoint.
std::filesystem::path stop_record_dir();

// The text of a record, and back; nullopt if it is not one.
std::string format_stop_record(const std::string &checkpoint_id, const StoppedTree &stopped);
std::optional<StoppedTree> parse_stop_record(const std::string &text);

// DIR/ID, written atomically (DIR created 0700 if missing).
base::Result<void> save_stop_record(const std::filesystem::path &dir,
                                          const std::string &checkpoint_id,
                                          const StoppedTree &stopped);
// nullopt when nothing was stopped in place for that id (no file, or an id
// that cannot be a file name); an error if the file exists but is unreadable.
base::Result<std::optional<StoppedTree>> load_stop_record(
    const std::filesystem::path &dir, const std::string &checkpoint_id);
void remove_stop_record(const std::filesystem::path &dir, const std::string &checkpoint_id);

} // namespace dbus_checkpoint::cli
