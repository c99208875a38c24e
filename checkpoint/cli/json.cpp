#include "cli/json.hpp"

#include <cstdio>

namespace dbus_checkpoint::cli {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence starting text[0] (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence_length(std::string_view text)
{
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  const std::size_t length = lead < 0x80                   ? 1
                             : lead >= 0xC2 && lead <= 0xDF ? 2
                             : lead >= 0xE0 && lead <= 0xEF ? 3
                             : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                            : 0;
  if (length == 0 || length > text.size())
    return 0;
  const unsigned char second_min = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
  const unsigned char second_max = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
  if (length > 1 && (byte(1) < second_min || byte(1) > second_max))
    return 0;
  for (std::size_t i = 2; i < length; ++i)
    if ((byte(i) & 0xC0) != 0x80)
      return 0;
  return length;
}

void append_escaped(std::string &out, char c)
{
  switch (c) {
  case '"': out += "\\\""; return;
  case '\\': out += "\\\\"; return;
  case '\n': out += "\\n"; return;
  case '\r': out += "\\r"; return;
  case '\t': out += "\\t"; return;
  case '\b': out += "\\b"; return;
  case '\f': out += "\\f"; return;
  default: break;
  }
  if (static_cast<unsigned char>(c) < 0x20) {
    char escaped[8];
    std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
    out += escaped;
  } else {
    out += c;
  }
}

} // namespace

std::string json_string(std::string_view text)
{
  std::string out = "\"";
  while (!text.empty()) {
    std::size_t length = utf8_sequence_length(text);
    if (length == 1)
      append_escaped(out, text[0]);
    else if (length > 1)
      out += text.substr(0, length);
    else
      out += kReplacementCharacter;
    text.remove_prefix(length ? length : 1);
  }
  return out + "\"";
}

std::string json_array(const std::vector<std::string> &elements)
{
  std::string out = "[";
  for (std::size_t i = 0; i < elements.size(); ++i)
    out += (i ? "," : "") + elements[i];
  return out + "]";
}

std::string json_string_array(const std::vector<std::string> &strings)
{
  std::vector<std::string> elements;
  for (const std::string &text : strings)
    elements.push_back(json_string(text));
  return json_array(elements);
}

JsonObject &JsonObject::add(std::string_view key, std::string_view value)
{
  return add_json(key, json_string(value));
}

JsonObject &JsonObject::add(std::string_view key, const std::string &value)
{
  return add(key, std::string_view(value));
}

JsonObject &JsonObject::add(std::string_view key, const char *value)
{
  return add(key, std::string_view(value));
}

JsonObject &JsonObject::add(std::string_view key, bool value)
{
  return add_json(key, value ? "true" : "false");
}

JsonObject &JsonObject::add(std::string_view key, double value)
{
  char number[32];
  std::snprintf(number, sizeof number, "%.3f", value);
  return add_json(key, number);
}

JsonObject &JsonObject::add_json(std::string_view key, const std::string &json)
{
  if (!members_.empty())
    members_ += ",";
  members_ += json_string(key) + ":" + json;
  return *this;
}

} // namespace dbus_checkpoint::cli
