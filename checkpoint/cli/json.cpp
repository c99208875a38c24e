// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/json.hpp"

#include <cmath>

namespace dbus_checkpoint::cli {

std::string json_text(const Json &value)
{
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

double json_milliseconds(double milliseconds)
{
  return std::round(milliseconds * 1000) / 1000;
}

base::Result<Json> parse_json(std::string_view text)
{
  try {
    return Json::parse(text);
  } catch (const Json::exception &error) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, ...",
    // or out_of_range.406 for a number too large for a double
    std::string_view what = error.what();
    constexpr std::string_view kLead = "parse error ";
    if (const auto lead = what.find(kLead); lead != std::string_view::npos)
      what.remove_prefix(lead + kLead.size());
    else if (const auto end = what.find("] "); end != std::string_view::npos)
      what.remove_prefix(end + 2);
    return base::Error{"", std::string(what)};
  }
}

} // namespace dbus_checkpoint::cli
