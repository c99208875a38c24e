#include "cli/json_reader.hpp"

#include <charconv>
#include <cmath>

namespace dbus_checkpoint::cli {
namespace {

constexpr int kMaxDepth = 64;

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  bus_client::Result<JsonValue> parse_document()
  {
    JsonValue value = parse_value(0);
    skip_space();
    if (error_.empty() && at_ < text_.size())
      fail("unexpected text after the value");
    if (!error_.empty())
      return bus_client::Error{"", "at byte " + std::to_string(error_at_) + ": " + error_};
    return value;
  }

 private:
  JsonValue parse_value(int depth)
  {
    skip_space();
    if (depth > kMaxDepth)
      return fail("nested too deeply");
    if (at_ >= text_.size())
      return fail("unexpected end");
    switch (text_[at_]) {
    case '{': return parse_object(depth);
    case '[': return parse_array(depth);
    case '"': return JsonValue(parse_string());
    case 't': return parse_literal("true", JsonValue(true));
    case 'f': return parse_literal("false", JsonValue(false));
    case 'n': return parse_literal("null", JsonValue());
    default: return parse_number();
    }
  }

  JsonValue parse_object(int depth)
  {
    ++at_;  // {
    JsonValue::Object members;
    skip_space();
    if (consume('}'))
      return JsonValue(std::move(members));
    while (error_.empty()) {
      skip_space();
      if (at_ >= text_.size() || text_[at_] != '"')
        return fail("expected a member name");
      std::string key = parse_string();
      skip_space();
      if (!consume(':'))
        return fail("expected ':'");
      JsonValue value = parse_value(depth + 1);
      members.emplace_back(std::move(key), std::move(value));
      skip_space();
      if (consume('}'))
        return JsonValue(std::move(members));
      if (!consume(','))
        return fail("expected ',' or '}'");
    }
    return {};
  }

  JsonValue parse_array(int depth)
  {
    ++at_;  // [
    JsonValue::Array elements;
    skip_space();
    if (consume(']'))
      return JsonValue(std::move(elements));
    while (error_.empty()) {
      elements.push_back(parse_value(depth + 1));
      skip_space();
      if (consume(']'))
        return JsonValue(std::move(elements));
      if (!consume(','))
        return fail("expected ',' or ']'");
    }
    return {};
  }

  std::string parse_string()
  {
    ++at_;  // "
    std::string out;
    while (error_.empty()) {
      if (at_ >= text_.size()) {
        fail("unterminated string");
        break;
      }
      char c = text_[at_++];
      if (c == '"')
        return out;
      if (static_cast<unsigned char>(c) < 0x20)
        fail("control character in a string");
      else if (c != '\\')
        out += c;
      else
        parse_escape(out);
    }
    return out;
  }

  void parse_escape(std::string &out)
  {
    if (at_ >= text_.size()) {
      fail("unterminated string");
      return;
    }
    char c = text_[at_++];
    switch (c) {
    case '"': case '\\': case '/': out += c; return;
    case 'b': out += '\b'; return;
    case 'f': out += '\f'; return;
    case 'n': out += '\n'; return;
    case 'r': out += '\r'; return;
    case 't': out += '\t'; return;
    case 'u': break;
    default: fail("bad escape"); return;
    }
    std::uint32_t code = parse_hex4();
    if (code >= 0xD800 && code <= 0xDBFF && text_.substr(at_, 2) == "\\u") {
      at_ += 2;
      std::uint32_t low = parse_hex4();
      if (low < 0xDC00 || low > 0xDFFF)
        return (void)fail("bad surrogate pair");
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    } else if (code >= 0xD800 && code <= 0xDFFF) {
      code = 0xFFFD;
    }
    append_utf8(out, code);
  }

  std::uint32_t parse_hex4()
  {
    std::uint32_t code = 0;
    auto [end, error] = std::from_chars(text_.data() + at_,
                                        text_.data() + std::min(at_ + 4, text_.size()), code, 16);
    if (error != std::errc() || end != text_.data() + at_ + 4) {
      fail("bad \\u escape");
      return 0;
    }
    at_ += 4;
    return code;
  }

  static void append_utf8(std::string &out, std::uint32_t code)
  {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  JsonValue parse_number()
  {
    // JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    const std::size_t start = at_;
    auto digits = [&] {
      std::size_t first = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9')
        ++at_;
      return at_ > first;
    };
    consume('-');
    if (consume('0')) {
    } else if (!digits()) {
      return fail("expected a value");
    }
    if (consume('.') && !digits())
      return fail("expected digits after '.'");
    if (consume('e') || consume('E')) {
      if (!consume('+'))
        consume('-');
      if (!digits())
        return fail("expected an exponent");
    }
    double value = 0;
    auto [end, error] = std::from_chars(text_.data() + start, text_.data() + at_, value);
    if (error != std::errc() || end != text_.data() + at_)
      return fail("number out of range");
    return JsonValue(value);
  }

  JsonValue parse_literal(std::string_view word, JsonValue value)
  {
    if (text_.substr(at_, word.size()) != word)
      return fail("expected a value");
    at_ += word.size();
    return value;
  }

  void skip_space()
  {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }

  bool consume(char c)
  {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  JsonValue fail(const std::string &what)
  {
    if (error_.empty()) {
      error_ = what;
      error_at_ = at_;
      at_ = text_.size();  // stop everything
    }
    return {};
  }

  std::string_view text_;
  std::size_t at_ = 0;
  std::string error_;
  std::size_t error_at_ = 0;
};

} // namespace

std::optional<bool> JsonValue::boolean() const
{
  if (auto *value = std::get_if<bool>(&value_))
    return *value;
  return std::nullopt;
}

std::optional<double> JsonValue::number() const
{
  if (auto *value = std::get_if<double>(&value_))
    return *value;
  return std::nullopt;
}

std::optional<std::int64_t> JsonValue::integer() const
{
  auto value = number();
  if (!value || std::trunc(*value) != *value || std::fabs(*value) > 9.007199254740992e15)
    return std::nullopt;
  return static_cast<std::int64_t>(*value);
}

const std::string *JsonValue::string() const { return std::get_if<std::string>(&value_); }
const JsonValue::Array *JsonValue::array() const { return std::get_if<Array>(&value_); }
const JsonValue::Object *JsonValue::object() const { return std::get_if<Object>(&value_); }

const JsonValue *JsonValue::member(std::string_view key) const
{
  const Object *members = object();
  if (!members)
    return nullptr;
  for (const auto &[name, value] : *members)
    if (name == key)
      return &value;
  return nullptr;
}

bus_client::Result<JsonValue> parse_json(std::string_view text)
{
  return JsonParser(text).parse_document();
}

} // namespace dbus_checkpoint::cli
