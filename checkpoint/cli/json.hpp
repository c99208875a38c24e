// Just enough JSON to write the CLI's --json output.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

namespace dbus_checkpoint::cli {

// `text` as a JSON string, quotes included.  Bytes that are not valid
// UTF-8 become U+FFFD, so the output always parses.
std::string json_string(std::string_view text);

// Elements already written as JSON, between brackets.
std::string json_array(const std::vector<std::string> &elements);
std::string json_string_array(const std::vector<std::string> &strings);

// Members in the order they are added.
class JsonObject {
 public:
  JsonObject &add(std::string_view key, std::string_view value);
  JsonObject &add(std::string_view key, const std::string &value);
  JsonObject &add(std::string_view key, const char *value);
  JsonObject &add(std::string_view key, bool value);
  JsonObject &add(std::string_view key, double value);
  template <std::integral Number>
    requires(!std::same_as<Number, bool>)
  JsonObject &add(std::string_view key, Number value)
  {
    return add_json(key, std::to_string(value));
  }
  // `json` is already JSON (an object, an array, null).
  JsonObject &add_json(std::string_view key, const std::string &json);

  std::string str() const { return "{" + members_ + "}"; }

 private:
  std::string members_;
};

} // namespace dbus_checkpoint::cli
