// SPDX-License-Identifier: GPL-2.0-or-later
// dbus-checkpoint.json: what `checkpoint` writes next to CRIU's images and
// `restore` reads back — the dumped processes, the bus, the checkpoint id
// of each frozen connection with its names, the timings, and once restored,
// when (a checkpoint is restored once).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "cli/json.hpp"

namespace dbus_checkpoint::cli {

inline constexpr const char *kManifestFileName = "dbus-checkpoint.json";
// 2: --shell-job is one of criu_options (format 1 had a "shell_job" bool
// beside them; still read).
inline constexpr int kManifestFormat = 2;
// The CRIU options checkpoint records: what restore accepts from the file.
inline constexpr const char *kCriuFileLocks = "--file-locks";
inline constexpr const char *kCriuShellJob = "--shell-job";

struct ManifestConnection {
  std::string id;                  // checkpoint id
  std::string unique_name;
  std::vector<std::string> names;  // well-known names
  pid_t pid = 0;                   // its process, in the tree
  bool frozen_before = false;      // someone had frozen it before the checkpoint
  // The bus it is on when not the command's own (--system/--address): a
  // bus found in the environment of the tree's processes (a session bus).
  std::string bus;
};

struct RestoreMark {
  std::int64_t at_usec = 0;  // CLOCK_REALTIME, when criu restore succeeded
  double restore_ms = 0;     // how long criu restore took
};

// The systemd service whose main process was dumped: its start restores
// the checkpoint (see systemd_unit.hpp) until restore or discard.
struct ManifestUnit {
  std::string name;     // "avahi-daemon.service"
  std::string drop_in;  // the drop-in checkpoint wrote
};

struct ManifestSandbox {
  std::vector<std::string> namespaces;     // "net", "uts", "ipc", "mnt"
  std::vector<std::string> outside_files;  // CRIU ids, "file[MNT_ID:INODE]" (hex)
};

// Where the pages are when not in DIR: migrate's criu dump --lazy-pages
// serves them from its page server until the destination fetched them all.
struct ManifestPageServer {
  std::string address;  // an IPv4/IPv6 address or host name of the source
  std::uint16_t port = 0;
};

struct CheckpointManifest {
  pid_t pid = 0;                 // the tree's root, criu dump -t
  std::string command;           // its /proc/PID/comm
  std::vector<pid_t> processes;  // root first, then its descendants
  std::string bus;               // the bus address as given, or "the system bus (...)"
  std::vector<ManifestConnection> connections;
  std::int64_t created_usec = 0;  // CLOCK_REALTIME
  double freeze_ms = 0;
  double dump_ms = 0;
  double total_ms = 0;
  std::uint64_t image_bytes = 0;
  std::string criu;               // the criu that dumped
  // What dump needed and restore needs too: --file-locks, and --shell-job
  // when the root did not lead its session (a bus-activated service, say).
  std::vector<std::string> criu_options;
  std::optional<RestoreMark> restored;
  std::optional<ManifestUnit> systemd_unit;
  // Dumped from inside the unit's sandbox (unit_sandbox.hpp): the
  // namespaces criu entered, and the files outside it that restore gives
  // back (--inherit-fd).  Only with systemd_unit.
  std::optional<ManifestSandbox> sandbox;
  // Written by migrate: the pages are fetched from there (restore then
  // runs criu lazy-pages --page-server), not read from DIR.
  std::optional<ManifestPageServer> page_server;

  // Dumped as a shell job: restored with criu leading a new session, so
  // that the service gets a session of its own.
  bool restores_in_new_session() const;
};

// The manifest's members (for the file and for checkpoint --json).
void add_manifest_members(Json &json, const CheckpointManifest &manifest);
std::string manifest_json(const CheckpointManifest &manifest);
base::Result<CheckpointManifest> parse_manifest(std::string_view text);

std::filesystem::path manifest_path(const std::filesystem::path &images_dir);
// Atomically (a restore may rewrite it to mark itself), mode 0600.
base::Result<void> save_manifest(const std::filesystem::path &images_dir,
                                       const CheckpointManifest &manifest);
// "DIR/dbus-checkpoint.json: ..." errors that say what is wrong.
base::Result<CheckpointManifest> load_manifest(const std::filesystem::path &images_dir);

} // namespace dbus_checkpoint::cli
