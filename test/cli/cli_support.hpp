// SPDX-License-Identifier: GPL-2.0-or-later
// What the tests of the dbus-checkpoint binary share: running it, and
// reading its --json output with an independent parser (Python's json).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "process.hpp"

namespace dcp::test {

// The built binary with these arguments, environment added to ours.
CommandResult run_cli(std::vector<std::string> arguments,
                      const std::map<std::string, std::string> &env = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

std::string first_line(const std::string &text);

// Runs `expression` on the parsed JSON `d` with Python's json module and
// returns the first line it prints: the output must be real JSON.
std::string json_query(const std::string &json, const std::string &expression);

} // namespace dcp::test
