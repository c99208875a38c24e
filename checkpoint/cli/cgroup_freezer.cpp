// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/cgroup_freezer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "base/unique_fd.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::UniqueFd;

base::Result<void> write_cgroup_freeze(const fs::path &cgroup_dir, char value)
{
  const fs::path file = cgroup_dir / "cgroup.freeze";
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), &value, 1) != 1)
    return base::errno_error("cannot write " + file.string(), errno);
  return {};
}

} // namespace

std::optional<fs::path> cgroup2_mount_point()
{
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    // "id parent major:minor root mount-point options... - fstype source options"
    auto separator = line.find(" - ");
    if (separator == std::string::npos)
      continue;
    std::istringstream after(line.substr(separator + 3));
    std::string fstype;
    after >> fstype;
    std::istringstream before(line.substr(0, separator));
    std::string id, parent, device, root, mount_point;
    before >> id >> parent >> device >> root >> mount_point;
    if (fstype == "cgroup2" && root == "/")
      return fs::path(mount_point);
  }
  return std::nullopt;
}

std::optional<fs::path> own_cgroup_dir(pid_t pid)
{
  std::ifstream cgroups("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(cgroups, line)) {
    if (!line.starts_with("0::"))
      continue;
    fs::path relative = fs::path(line.substr(3)).relative_path();
    auto mount_point = cgroup2_mount_point();
    if (relative.empty() || !mount_point)
      return std::nullopt;
    return *mount_point / relative;
  }
  return std::nullopt;
}

std::set<pid_t> cgroup_pids(const fs::path &cgroup_dir)
{
  std::set<pid_t> pids;
  auto add_procs = [&](const fs::path &dir) {
    std::ifstream procs(dir / "cgroup.procs");
    for (pid_t pid = 0; procs >> pid;)
      pids.insert(pid);
  };
  add_procs(cgroup_dir);
  std::error_code error;
  for (const auto &entry : fs::recursive_directory_iterator(cgroup_dir, error))
    if (entry.is_directory(error))
      add_procs(entry.path());
  return pids;
}

bool cgroup_is_frozen(const fs::path &cgroup_dir)
{
  std::ifstream events(cgroup_dir / "cgroup.events");
  std::string line;
  while (std::getline(events, line))
    if (line == "frozen 1")
      return true;
  return false;
}

bool cgroup_freeze_is_writable(const fs::path &cgroup_dir)
{
  return ::access((cgroup_dir / "cgroup.freeze").c_str(), W_OK) == 0;
}

base::Result<void> freeze_cgroup(const fs::path &cgroup_dir,
                                       std::chrono::milliseconds timeout)
{
  if (auto written = write_cgroup_freeze(cgroup_dir, '1'); !written)
    return written;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cgroup_is_frozen(cgroup_dir)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      (void)write_cgroup_freeze(cgroup_dir, '0');
      return base::Error{"", "cgroup " + cgroup_dir.string() + " did not freeze within " +
                                       std::to_string(timeout.count()) + " ms"};
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return {};
}

base::Result<void> unfreeze_cgroup(const fs::path &cgroup_dir)
{
  return write_cgroup_freeze(cgroup_dir, '0');
}

} // namespace dbus_checkpoint::cli
