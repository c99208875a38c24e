// SPDX-License-Identifier: GPL-2.0-or-later
#include "record/state_dir.hpp"

#include "base/files.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <new>
#include <vector>

#include "record/checkpoint_id.hpp"
#include "base/unique_fd.hpp"
#include "record/validate.hpp"

namespace dbus_checkpoint::record {
namespace {

namespace fs = std::filesystem;
using base::UniqueFd;
using base::UniqueDir;
using base::read_at_most;
using base::write_all;

std::error_code last_error() noexcept { return {errno, std::generic_category()}; }

base::Error failure_of(std::error_code code) { return base::failure(code.value(), code.message()); }

// "a/b/" names the same directory as "a/b", but its parent_path() is "a/b".
fs::path directory_path(const std::string &dir)
{
  fs::path path = fs::path(dir).lexically_normal();
  if (!path.has_filename() && path.has_relative_path())
    path = path.parent_path();
  return path;
}

std::error_code make_state_dir(const fs::path &dir)
{
  std::error_code error;
  if (dir.has_parent_path())
    fs::create_directories(dir.parent_path(), error);
  if (error)
    return error;
  if (::mkdir(dir.c_str(), kStateDirMode) < 0 && errno != EEXIST)
    return last_error();
  return {};
}

// Never through a symlink: the daemon refuses one at start-up
// (unsafe_state_dir_problem), and one put there later is refused too.
UniqueFd open_directory(const fs::path &dir) noexcept
{
  return UniqueFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

bool owned_by_user(uid_t owner, const std::string &user)
{
  if (user.empty())
    return false;
  std::vector<char> buffer(16384);
  struct passwd entry{};
  struct passwd *found = nullptr;
  return ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 &&
         found != nullptr && found->pw_uid == owner;
}


// Hidden and without the .record suffix, so load_all_records() skips it.
std::error_code temporary_name(std::string_view checkpoint_id, std::string &name_out)
{
  auto random_part = new_checkpoint_id();
  if (!random_part)
    return {random_part.error().errno_value, std::generic_category()};
  name_out = "." + std::string(checkpoint_id) + "." + random_part.value() + ".tmp";
  return {};
}

std::error_code write_durably(int fd, std::string_view bytes) noexcept
{
  // umask may have narrowed the mode given to openat(); state it exactly.
  if (::fchmod(fd, kRecordFileMode) < 0)
    return last_error();
  if (auto error = write_all(fd, bytes))
    return error;
  if (::fsync(fd) < 0)
    return last_error();
  return {};
}

bool is_record_file_name(std::string_view name) noexcept
{
  return !name.starts_with('.') && name.size() > kRecordFileSuffix.size() &&
         name.ends_with(kRecordFileSuffix);
}

std::error_code list_record_files(DIR *dir, std::vector<std::string> &names_out)
{
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent *entry = ::readdir(dir);
    if (entry == nullptr && errno != 0)
      return last_error();
    if (entry == nullptr)
      break;
    if (is_record_file_name(entry->d_name))
      names.emplace_back(entry->d_name);
  }
  std::sort(names.begin(), names.end());
  names_out = std::move(names);
  return {};
}

base::Error unusable(std::string message)
{
  return base::failure(EINVAL, std::move(message));
}

base::Result<FrozenConnection> read_record_file(int dir_fd, const std::string &name)
{
  // O_NONBLOCK: a FIFO planted in the directory must not hang the daemon.
  UniqueFd file(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!file)
    return unusable("cannot open it: " + last_error().message());
  struct stat status;
  if (::fstat(file.get(), &status) < 0)
    return unusable("cannot stat it: " + last_error().message());
  if (!S_ISREG(status.st_mode))
    return unusable("it is not a regular file");
  if (auto problem = check_record_size(static_cast<std::size_t>(status.st_size)); !problem)
    return problem.error();
  std::string bytes;
  if (auto error = read_at_most(file.get(), kMaxRecordBytes, bytes))
    return unusable("cannot read it: " + error.message());
  auto decoded = decode(bytes);
  if (decoded && record_file_name(decoded.value().checkpoint_id()) != name)
    return unusable("it holds checkpoint_id " + quoted_value(decoded.value().checkpoint_id()) +
                    ", which does not match its file name");
  return decoded;
}

base::Status visit_record_files(const fs::path &dir_path, DIR *dir, const LoadVisitor &visit)
{
  std::vector<std::string> names;
  if (auto error = list_record_files(dir, names))
    return base::status_of(error);
  for (const std::string &name : names) {
    LoadedFile file{(dir_path / name).string(), read_record_file(::dirfd(dir), name)};
    if (auto visited = visit(std::move(file)); !visited)
      return visited;
  }
  return {};
}

} // namespace

std::string record_file_name(std::string_view checkpoint_id)
{
  return std::string(checkpoint_id) + std::string(kRecordFileSuffix);
}

StagedRecordFile::StagedRecordFile(UniqueFd dir_fd, std::string checkpoint_id,
                                   std::string temporary_name)
    : dir_fd_(std::move(dir_fd)), checkpoint_id_(std::move(checkpoint_id)),
      temporary_name_(std::move(temporary_name))
{
}

StagedRecordFile::~StagedRecordFile()
{
  if (dir_fd_ && !temporary_name_.empty())
    ::unlinkat(dir_fd_.get(), temporary_name_.c_str(), 0);
}

base::Result<StagedRecordFile> StagedRecordFile::write(const std::string &dir,
                                                       std::string_view checkpoint_id,
                                                       std::string_view bytes) noexcept
{
  try {
    const fs::path dir_path = directory_path(dir);
    if (auto error = make_state_dir(dir_path))
      return failure_of(error);
    UniqueFd dir_fd = open_directory(dir_path);
    if (!dir_fd)
      return failure_of(last_error());
    std::string name;
    if (auto error = temporary_name(checkpoint_id, name))
      return failure_of(error);
    UniqueFd file(::openat(dir_fd.get(), name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, kRecordFileMode));
    if (!file)
      return failure_of(last_error());
    StagedRecordFile staged(std::move(dir_fd), std::string(checkpoint_id), std::move(name));
    if (auto error = write_durably(file.get(), bytes))
      return failure_of(error);
    if (auto error = file.close())
      return failure_of(error);
    return staged;
  } catch (const std::bad_alloc &) {
    return base::failure(ENOMEM, {});
  }
}

base::Status StagedRecordFile::rename_into_place() noexcept
{
  try {
    if (::renameat(dir_fd_.get(), temporary_name_.c_str(), dir_fd_.get(),
                   record_file_name(checkpoint_id_).c_str()) < 0)
      return base::status_of(last_error());
    temporary_name_.clear();
    return {};
  } catch (const std::bad_alloc &) {
    return base::failure(ENOMEM, {});
  }
}

base::Status StagedRecordFile::sync_directory() noexcept
{
  return ::fsync(dir_fd_.get()) < 0 ? base::status_of(last_error()) : base::Status();
}

base::Status save_record(const std::string &dir, const FrozenConnection &record) noexcept
{
  auto bytes = encode(record);
  if (!bytes)
    return std::move(bytes).error();
  auto staged = StagedRecordFile::write(dir, record.checkpoint_id(), bytes.value());
  if (!staged)
    return std::move(staged).error();
  if (auto renamed = staged.value().rename_into_place(); !renamed)
    return renamed;
  // The rename itself is durable only once the directory is.
  return staged.value().sync_directory();
}

std::string unsafe_state_dir_problem(const std::string &dir, const std::string &bus_user)
{
  const fs::path path = directory_path(dir);
  struct stat status{};
  if (::lstat(path.c_str(), &status) < 0)
    return errno == ENOENT ? std::string()
                           : "cannot stat it: " + std::error_code(errno, std::generic_category()).message();
  if (S_ISLNK(status.st_mode))
    return "it is a symbolic link";
  if (!S_ISDIR(status.st_mode))
    return "it is not a directory";
  if (status.st_uid != 0 && status.st_uid != ::geteuid() &&
      !owned_by_user(status.st_uid, bus_user))
    return "it is owned by uid " + std::to_string(status.st_uid) +
           ", neither root nor the bus's user";
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(status.st_mode & 07777));
    return std::string("it is writable by group or others (mode ") + mode + ")";
  }
  return {};
}

base::Status remove_record(const std::string &dir, std::string_view checkpoint_id) noexcept
{
  try {
    if (!is_valid_checkpoint_id(checkpoint_id))
      return base::failure(EINVAL, "not a checkpoint id");
    UniqueFd dir_fd = open_directory(directory_path(dir));
    if (!dir_fd)
      return errno == ENOENT ? base::Status() : base::status_of(last_error());
    if (::unlinkat(dir_fd.get(), record_file_name(checkpoint_id).c_str(), 0) < 0)
      return errno == ENOENT ? base::Status() : base::status_of(last_error());
    if (::fsync(dir_fd.get()) < 0)
      return base::status_of(last_error());
    return {};
  } catch (const std::bad_alloc &) {
    return base::failure(ENOMEM, {});
  }
}

base::Status set_record_aside(const std::string &dir, std::string_view checkpoint_id) noexcept
{
  try {
    if (!is_valid_checkpoint_id(checkpoint_id))
      return base::failure(EINVAL, "not a checkpoint id");
    UniqueFd dir_fd = open_directory(directory_path(dir));
    if (!dir_fd)
      return base::status_of(last_error());
    const std::string aside = std::string(checkpoint_id) + ".other-boot";
    if (::renameat(dir_fd.get(), record_file_name(checkpoint_id).c_str(), dir_fd.get(),
                   aside.c_str()) < 0 ||
        ::fsync(dir_fd.get()) < 0)
      return base::status_of(last_error());
    return {};
  } catch (const std::bad_alloc &) {
    return base::failure(ENOMEM, {});
  }
}

base::Status load_all_records(const std::string &dir, const LoadVisitor &visit) noexcept
{
  try {
    const fs::path dir_path = directory_path(dir);
    UniqueDir listing(::opendir(dir_path.c_str()));
    if (!listing)
      return errno == ENOENT ? base::Status() : base::status_of(last_error());
    return visit_record_files(dir_path, listing.get(), visit);
  } catch (const std::bad_alloc &) {
    return base::failure(ENOMEM, {});
  }
}

} // namespace dbus_checkpoint::record
