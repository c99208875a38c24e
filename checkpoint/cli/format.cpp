// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/format.hpp"

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <optional>

namespace dbus_checkpoint::cli {
namespace {

std::optional<std::tm> local_tm(std::int64_t usec)
{
  std::time_t seconds = static_cast<std::time_t>(usec / 1'000'000);
  std::tm local{};
  if (!localtime_r(&seconds, &local))
    return std::nullopt;
  return local;
}

std::string format_time(const std::tm &local, const char *strftime_format)
{
  char text[64];
  if (!std::strftime(text, sizeof text, strftime_format, &local))
    return "?";
  return text;
}

// Display width: UTF-8 code points (close enough for names and times).
std::size_t display_width(const std::string &text)
{
  std::size_t width = 0;
  for (unsigned char c : text)
    width += (c & 0xC0) != 0x80;
  return width;
}

} // namespace

std::int64_t realtime_usec()
{
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

double to_milliseconds(Clock::duration duration)
{
  return std::chrono::duration<double, std::milli>(duration).count();
}

std::string format_milliseconds(Clock::duration duration)
{
  return format_milliseconds(to_milliseconds(duration));
}

std::string format_milliseconds(double milliseconds)
{
  char text[32];
  std::snprintf(text, sizeof text, "%.2f ms", milliseconds);
  return text;
}

std::string format_age(std::chrono::seconds age)
{
  struct Unit {
    const char *suffix;
    long long seconds;
  };
  constexpr Unit kUnits[] = {{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};
  long long left = age.count() > 0 ? age.count() : 0;
  for (std::size_t i = 0; i + 1 < std::size(kUnits); ++i) {
    if (left < kUnits[i].seconds)
      continue;
    const Unit &next = kUnits[i + 1];
    char text[48];
    std::snprintf(text, sizeof text, "%lld%s%02lld%s", left / kUnits[i].seconds, kUnits[i].suffix,
                  left % kUnits[i].seconds / next.seconds, next.suffix);
    return text;
  }
  return std::to_string(left) + "s";
}

std::string format_local_time(std::int64_t usec)
{
  auto local = local_tm(usec);
  return local ? format_time(*local, "%Y-%m-%d %H:%M:%S") : "?";
}

std::string format_rfc3339(std::int64_t usec)
{
  auto local = local_tm(usec);
  if (!local)
    return "?";
  const long offset_minutes = local->tm_gmtoff / 60;
  const long magnitude = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char offset[48];
  std::snprintf(offset, sizeof offset, "%c%02ld:%02ld", offset_minutes < 0 ? '-' : '+',
                magnitude / 60, magnitude % 60);
  return format_time(*local, "%Y-%m-%dT%H:%M:%S") + offset;
}

std::string format_bytes(std::uint64_t bytes)
{
  if (bytes < 1024)
    return std::to_string(bytes) + " B";
  const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  for (; value >= 1024 && unit + 1 < std::size(units); ++unit)
    value /= 1024;
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string format_table(const TableRow &header, const std::vector<TableRow> &rows)
{
  std::vector<std::size_t> widths(header.size(), 0);
  auto measure = [&](const TableRow &row) {
    for (std::size_t column = 0; column < row.size() && column < widths.size(); ++column)
      widths[column] = std::max(widths[column], display_width(row[column]));
  };
  measure(header);
  for (const TableRow &row : rows)
    measure(row);

  std::string out;
  auto append = [&](const TableRow &row) {
    for (std::size_t column = 0; column < row.size() && column < widths.size(); ++column) {
      out += row[column];
      if (column + 1 < row.size())
        out += std::string(widths[column] - display_width(row[column]) + 2, ' ');
    }
    out += "\n";
  };
  append(header);
  for (const TableRow &row : rows)
    append(row);
  return out;
}

} // namespace dbus_checkpoint::cli
