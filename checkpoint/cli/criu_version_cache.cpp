// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/criu_version_cache.hpp"

#include <sys/stat.h>

#include "cli/files.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char *kCacheFileName = "criu-version";

std::string nanoseconds(const struct timespec &time)
{
  return std::to_string(time.tv_sec) + "." + std::to_string(time.tv_nsec);
}

} // namespace

std::string criu_file_key(const fs::path &executable)
{
  struct stat file{};
  if (::stat(executable.c_str(), &file) != 0 || !S_ISREG(file.st_mode))
    return "";
  return fs::absolute(executable).lexically_normal().string() + " dev " + std::to_string(file.st_dev) +
         " ino " + std::to_string(file.st_ino) + " size " + std::to_string(file.st_size) + " mtime " +
         nanoseconds(file.st_mtim) + " ctime " + nanoseconds(file.st_ctim);
}

std::optional<std::string> cached_criu_version(const fs::path &dir, const fs::path &executable)
{
  const std::string key = criu_file_key(executable);
  if (key.empty() || !check_trusted_directory(dir, /*create=*/false))
    return std::nullopt;
  auto text = read_whole_file(dir / kCacheFileName);
  if (!text || !text.value().starts_with(key + "\n"))
    return std::nullopt;
  return text.value().substr(key.size() + 1);
}

void keep_criu_version(const fs::path &dir, const fs::path &executable, const std::string &output)
{
  const std::string key = criu_file_key(executable);
  if (key.empty() || key.find('\n') != std::string::npos || !check_trusted_directory(dir, /*create=*/true))
    return;
  (void)replace_file(dir / kCacheFileName, key + "\n" + output, 0600);
}

} // namespace dbus_checkpoint::cli
