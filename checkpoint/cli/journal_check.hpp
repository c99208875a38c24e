// SPDX-License-Identifier: GPL-2.0-or-later
// Before a restore: a checkpoint whose process logged to the journal (the
// plugin kept DIR/dbus-checkpoint-INODE.journal files) needs journald to
// answer on the sockets those files name, or the plugin's restore fails
// inside criu (inside the unit's start, whose own log would go to the
// journal that is not there).  Checked first, with a clear message.
#pragma once

#include <filesystem>

#include "base/result.hpp"

namespace dbus_checkpoint::cli {

inline constexpr const char *kJournalStdoutSocket = "/run/systemd/journal/stdout";

// Each journal socket the images need accepts a connection.
base::Result<void> check_journald_answers(const std::filesystem::path &images_dir);

} // namespace dbus_checkpoint::cli
