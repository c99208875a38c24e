// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli_support.hpp"

#include <boost/test/unit_test.hpp>

namespace dcp::test {

CommandResult run_cli(std::vector<std::string> arguments,
                      const std::map<std::string, std::string> &env,
                      std::chrono::milliseconds timeout)
{
  arguments.insert(arguments.begin(), DCP_CLI);
  return run_command(arguments, timeout, env);
}

std::string first_line(const std::string &text)
{
  return text.substr(0, text.find('\n'));
}

std::string json_query(const std::string &json, const std::string &expression)
{
  CommandResult r = run_command({DCP_SYSTEM_PYTHON3, "-c",
                                 "import json, sys\nd = json.loads(sys.argv[1])\n"
                                 "print(" + expression + ")",
                                 json});
  BOOST_REQUIRE_MESSAGE(r.ok(), "not JSON, or no " << expression << ": " << r.describe());
  return first_line(r.out);
}

} // namespace dcp::test
