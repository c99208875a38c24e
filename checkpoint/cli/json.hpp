// SPDX-License-Identifier: GPL-2.0-or-later
// JSON, with nlohmann-json: the CLI's --json output and its own files
// (dbus-checkpoint.json, the records of processes stopped in place).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace dbus_checkpoint::cli {

// Objects keep their members in the order they were added.
using Json = nlohmann::ordered_json;

// `value` on one line.  Bytes that are not valid UTF-8 become U+FFFD, so
// the output always parses.
std::string json_text(const Json &value);

// A duration in milliseconds as the CLI prints it: to the microsecond.
double json_milliseconds(double milliseconds);

// `value` into `out` if it is an integer (never 4.0 or 4e242) that `Number`
// holds; false otherwise, `out` untouched.  nlohmann's get<int>() of a
// number out of range is undefined behaviour.
template <typename Number>
bool json_integer(const Json &value, Number &out)
{
  if (value.is_number_unsigned() && std::in_range<Number>(value.get<std::uint64_t>()))
    out = static_cast<Number>(value.get<std::uint64_t>());
  else if (value.is_number_integer() && !value.is_number_unsigned() &&
           std::in_range<Number>(value.get<std::int64_t>()))
    out = static_cast<Number>(value.get<std::int64_t>());
  else
    return false;
  return true;
}

// One JSON value and nothing but white space around it; the error says
// where ("at line 1, column 2: syntax error ...").
base::Result<Json> parse_json(std::string_view text);

} // namespace dbus_checkpoint::cli
