// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/unit_sandbox.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <sstream>

#include "cli/files.hpp"
#include "base/program.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::Error;
using base::Result;

std::string label(pid_t pid)
{
  return "pid " + std::to_string(pid) + " (" + process_name(pid) + ")";
}

bool is_dev_null(const struct stat &file)
{
  return S_ISCHR(file.st_mode) && major(file.st_rdev) == 1 && minor(file.st_rdev) == 3;
}

// Files CRIU dumps by their path on a mount: regular files, directories,
// devices.  Sockets, pipes, anonymous inodes are on kernel-internal mounts
// that no mountinfo lists; CRIU dumps them by kind.
bool dumped_by_path(const struct stat &file)
{
  return S_ISREG(file.st_mode) || S_ISDIR(file.st_mode) || S_ISCHR(file.st_mode) ||
         S_ISBLK(file.st_mode);
}

Result<void> collect_outside_files(pid_t pid, const std::set<int> &sandbox_mounts,
                                   std::vector<std::string> &ids)
{
  const std::string proc = "/proc/" + std::to_string(pid);
  std::error_code error;
  for (const fs::directory_entry &entry : fs::directory_iterator(proc + "/fd", error)) {
    const std::string fd = entry.path().filename().string();
    struct stat file{};
    if (::stat(entry.path().c_str(), &file) != 0 || !dumped_by_path(file))
      continue;
    auto fdinfo = read_whole_file(proc + "/fdinfo/" + fd);
    if (!fdinfo)
      continue;  // closed meanwhile
    const std::optional<int> mount = fdinfo_mount_id(fdinfo.value());
    if (!mount || sandbox_mounts.contains(*mount))
      continue;
    std::error_code ignored;
    const std::string path = fs::read_symlink(entry.path(), ignored).string();
    if (!is_dev_null(file))
      return Error{"", label(pid) + " has fd " + fd + " open on " + path +
                           ", a file outside its unit's sandbox (mount " + std::to_string(*mount) +
                           " is not in its mount namespace): criu, dumping from inside the "
                           "sandbox, cannot name it, and the restore could not reopen it"};
    const std::string id = criu_file_id(*mount, file.st_ino);
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      ids.push_back(id);
  }
  if (error)
    return Error{"", "cannot list " + proc + "/fd: " + error.message()};
  return {};
}

} // namespace

std::set<int> mount_ids(const std::string &mountinfo_text)
{
  std::set<int> ids;
  std::istringstream lines(mountinfo_text);
  for (std::string line; std::getline(lines, line);) {
    int id = 0;
    if (std::sscanf(line.c_str(), "%d ", &id) == 1)
      ids.insert(id);
  }
  return ids;
}

std::optional<int> fdinfo_mount_id(const std::string &fdinfo_text)
{
  std::istringstream lines(fdinfo_text);
  for (std::string line; std::getline(lines, line);) {
    int id = 0;
    if (std::sscanf(line.c_str(), "mnt_id: %d", &id) == 1)
      return id;
  }
  return std::nullopt;
}

std::string criu_file_id(int mount_id, ino_t inode)
{
  char id[64];
  std::snprintf(id, sizeof id, "file[%x:%" PRIx64 "]", static_cast<unsigned>(mount_id),
                static_cast<std::uint64_t>(inode));
  return id;
}

Result<std::optional<UnitSandbox>> unit_sandbox_of(const std::vector<ProcessInfo> &tree)
{
  const pid_t root = tree.front().id.pid;
  UnitSandbox sandbox{root, {base::namespaces_apart(root), {}}};
  if (sandbox.seen.namespaces.empty())
    return std::optional<UnitSandbox>();
  const std::string root_proc = "/proc/" + std::to_string(root);
  for (const ProcessInfo &process : tree)
    for (const char *kind : {"net", "uts", "ipc", "mnt"}) {
      std::error_code a, b;
      const std::string proc = "/proc/" + std::to_string(process.id.pid);
      if (fs::read_symlink(proc + "/ns/" + kind, a) != fs::read_symlink(root_proc + "/ns/" + kind, b))
        return Error{"", label(process.id.pid) + " is not in the " + kind + " namespace of " +
                             label(root) + ", the sandboxed service it descends from: criu "
                             "dumps the tree from inside the namespaces of its root only"};
    }
  auto mountinfo = read_whole_file(root_proc + "/mountinfo");
  if (!mountinfo)
    return mountinfo.error();
  const std::set<int> sandbox_mounts = mount_ids(mountinfo.value());
  for (const ProcessInfo &process : tree)
    if (auto collected = collect_outside_files(process.id.pid, sandbox_mounts, sandbox.seen.outside_files);
        !collected)
      return collected.error();
  return std::optional<UnitSandbox>(std::move(sandbox));
}

Result<void> check_visible_in_sandbox(const UnitSandbox &sandbox, const fs::path &path,
                                      const std::string &what)
{
  std::error_code error;
  const fs::path absolute = fs::absolute(path, error);
  // /proc/PID/root/PATH is PATH as the process sees it (its mount namespace)
  const std::string theirs = "/proc/" + std::to_string(sandbox.pid) + "/root" + absolute.string();
  struct stat in_ours{}, in_theirs{};
  if (::stat(absolute.c_str(), &in_ours) == 0 && ::stat(theirs.c_str(), &in_theirs) == 0 &&
      in_ours.st_dev == in_theirs.st_dev && in_ours.st_ino == in_theirs.st_ino)
    return {};
  return Error{"", what + " " + absolute.string() + " is not the same in the sandbox of " +
                       label(sandbox.pid) + " (" + (::stat(theirs.c_str(), &in_theirs) == 0
                                                        ? "another file there"
                                                        : "not there") +
                       "), where criu and the restore run: put it where the unit sees it"};
}

std::vector<std::string> sandbox_dump_options(const UnitSandbox &sandbox)
{
  std::vector<std::string> options;
  for (const std::string &id : sandbox.seen.outside_files)
    options.insert(options.end(), {"--external", id});
  return options;
}

std::vector<std::string> sandbox_restore_options(const ManifestSandbox &sandbox)
{
  std::vector<std::string> options;
  for (const std::string &id : sandbox.outside_files)
    options.insert(options.end(), {"--inherit-fd", "fd[0]:" + id});
  return options;
}

} // namespace dbus_checkpoint::cli
