// SPDX-License-Identifier: GPL-2.0-or-later
#include "bus-client/process_buses.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <iterator>

namespace dbus_checkpoint::bus_client {
namespace {

int hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// D-Bus address values escape bytes as %XX.
std::string unescape_address_value(std::string_view value)
{
  std::string out;
  for (std::size_t i = 0; i < value.size(); i++) {
    const bool escaped = value[i] == '%' && i + 2 < value.size() &&
                         hex_value(value[i + 1]) >= 0 && hex_value(value[i + 2]) >= 0;
    if (escaped) {
      out += static_cast<char>(hex_value(value[i + 1]) * 16 + hex_value(value[i + 2]));
      i += 2;
    } else {
      out += value[i];
    }
  }
  return out;
}

} // namespace

std::vector<std::string_view> split_list(std::string_view text, char separator)
{
  std::vector<std::string_view> parts;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos)
      end = text.size();
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::vector<std::string> unix_paths_of_address(std::string_view address)
{
  std::vector<std::string> paths;
  for (std::string_view entry : split_list(address, ';')) {
    if (entry.substr(0, 5) != "unix:")
      continue;
    for (std::string_view pair : split_list(entry.substr(5), ',')) {
      if (pair.substr(0, 5) == "path=")
        paths.push_back(unescape_address_value(pair.substr(5)));
    }
  }
  return paths;
}


bool same_bus(const std::string &a, const std::string &b)
{
  if (a == b)
    return true;
  for (const std::string &path_a : unix_paths_of_address(a)) {
    struct stat file_a{};
    if (stat(path_a.c_str(), &file_a) < 0)
      continue;
    for (const std::string &path_b : unix_paths_of_address(b)) {
      struct stat file_b{};
      if (path_a == path_b || (stat(path_b.c_str(), &file_b) == 0 && file_a.st_dev == file_b.st_dev &&
                               file_a.st_ino == file_b.st_ino))
        return true;
    }
  }
  return false;
}

std::string environment_value(std::string_view environ_block, std::string_view name)
{
  std::size_t start = 0;
  while (start < environ_block.size()) {
    std::size_t end = environ_block.find('\0', start);
    if (end == std::string_view::npos)
      end = environ_block.size();
    std::string_view entry = environ_block.substr(start, end - start);
    if (entry.size() > name.size() && entry.substr(0, name.size()) == name &&
        entry[name.size()] == '=')
      return std::string(entry.substr(name.size() + 1));
    start = end + 1;
  }
  return {};
}

base::Result<ProcessBuses> process_bus_addresses(pid_t pid)
{
  const std::string path = "/proc/" + std::to_string(pid) + "/environ";
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return base::errno_error("cannot read " + path, errno);
  const std::string block((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ProcessBuses{environment_value(block, "DBUS_SYSTEM_BUS_ADDRESS"),
                      environment_value(block, "DBUS_SESSION_BUS_ADDRESS")};
}

} // namespace dbus_checkpoint::bus_client
