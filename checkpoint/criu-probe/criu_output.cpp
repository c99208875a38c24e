// SPDX-License-Identifier: GPL-2.0-or-later
#include "criu-probe/criu_output.hpp"

#include <regex>
#include <sstream>
#include <vector>

#include "base/program.hpp"

namespace dbus_checkpoint::criu {

using base::last_lines;

std::string Version::str() const
{
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<Version> parse_version(const std::string &output)
{
  static const std::regex pattern(R"(Version:\s*([0-9]+)\.([0-9]+)(?:\.([0-9]+))?)");
  std::smatch match;
  if (!std::regex_search(output, match, pattern))
    return std::nullopt;
  Version version;
  version.major = std::stoi(match[1]);
  version.minor = std::stoi(match[2]);
  version.patch = match[3].matched ? std::stoi(match[3]) : 0;
  return version;
}

std::vector<std::string> parse_patch_features(const std::string &output)
{
  std::vector<std::string> features;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string key, whose;
    if (!(words >> key >> whose) || key != "Patches:" || whose != "dbus-checkpoint")
      continue;
    for (std::string feature; words >> feature;)
      features.push_back(feature);
  }
  return features;
}

std::string why_too_old(const Version &version)
{
  if (version >= kMinimumVersion)
    return "";
  return "CRIU " + version.str() + " is older than 4.2: CRIU < 4.2 hangs in every dump where "
         "hardware breakpoints are not virtualized (most VMs) and cannot dump inet sockets on "
         "kernels >= 6.16";
}

std::string error_lines(const std::string &log, std::size_t count, const std::string &indent)
{
  constexpr const char *kHarmless = "Can't setup RLIMIT_NOFILE";
  std::istringstream lines(log);
  std::string reports;
  for (std::string line; std::getline(lines, line);)
    if (line.find("Error (") != std::string::npos && line.find(kHarmless) == std::string::npos)
      reports += line + "\n";
  return last_lines(reports, count, indent);
}

std::string describe_log(const std::string &log_text, const std::string &log_path,
                         std::size_t error_count, std::size_t tail_count)
{
  const std::string tail = last_lines(log_text, tail_count, "  ");
  if (tail.empty())
    return "";
  const std::string errors = error_lines(log_text, error_count, "  ");
  if (!errors.empty() && tail.find(errors) == std::string::npos)
    return "; errors in " + log_path + ":\n" + errors + "and its last lines:\n" + tail;
  return "; the last lines of " + log_path + ":\n" + tail;
}

} // namespace dbus_checkpoint::criu
