// SPDX-License-Identifier: GPL-2.0-or-later
#include "screenshot.hpp"

#include <algorithm>
#include <map>

#include <png.h>

#include <set>
#include <stdexcept>

namespace dcp::test::wayland {
namespace {

namespace layout = dcp::wayland_counter;

bool inside(Placement where, int x, int y)
{
  return x >= where.x && x < where.x + layout::kWidth && y >= where.y &&
         y < where.y + layout::kHeight;
}

bool in_rect(const layout::Rect &r, int x, int y)
{
  return x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
}

bool frame_complete(const Image &image, int x0, int y0)
{
  if (x0 + layout::kWidth > image.width || y0 + layout::kHeight > image.height)
    return false;
  for (int i = 0; i < layout::kWidth; i++)
    if (image.at(x0 + i, y0) != layout::kFrameColor ||
        image.at(x0 + i, y0 + layout::kHeight - 1) != layout::kFrameColor)
      return false;
  for (int j = 0; j < layout::kHeight; j++)
    if (image.at(x0, y0 + j) != layout::kFrameColor ||
        image.at(x0 + layout::kWidth - 1, y0 + j) != layout::kFrameColor)
      return false;
  return true;
}

std::string hex(std::uint32_t color)
{
  char text[16];
  std::snprintf(text, sizeof text, "#%06x", color);
  return text;
}

} // namespace

Image load_png(const std::string &path)
{
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&png, path.c_str()))
    throw std::runtime_error("cannot read " + path + ": " + png.message);
  // RGBA, alpha left out: composing it onto black would hide colours.
  png.format = PNG_FORMAT_RGBA;
  std::vector<unsigned char> rgb(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, rgb.data(), 0, nullptr)) {
    png_image_free(&png);
    throw std::runtime_error("cannot decode " + path + ": " + png.message);
  }
  Image image;
  image.width = static_cast<int>(png.width);
  image.height = static_cast<int>(png.height);
  image.pixels.resize(static_cast<std::size_t>(image.width) * image.height);
  for (std::size_t i = 0; i < image.pixels.size(); i++)
    image.pixels[i] = (std::uint32_t{rgb[4 * i]} << 16) | (std::uint32_t{rgb[4 * i + 1]} << 8) |
                      rgb[4 * i + 2];
  return image;
}

std::optional<Placement> find_counter_window(const Image &image)
{
  for (int y = 0; y < image.height; y++)
    for (int x = 0; x < image.width; x++)
      if (image.at(x, y) == layout::kFrameColor && frame_complete(image, x, y))
        return Placement{x, y};
  return std::nullopt;
}

std::string check_counter(const Image &image, Placement where, std::uint32_t value)
{
  for (int digit = 0; digit < layout::kDigits; digit++) {
    for (int segment = 0; segment < layout::kSegments; segment++) {
      const layout::Rect r = layout::segment_rect(digit, segment);
      const bool lit = layout::segment_lit(value, digit, segment);
      for (int y = r.y; y < r.y + r.height; y++)
        for (int x = r.x; x < r.x + r.width; x++) {
          // An unlit segment's corners may be under a lit neighbour.
          bool covered = false;
          for (int other = 0; !lit && other < layout::kSegments; other++)
            covered = covered || (layout::segment_lit(value, digit, other) &&
                                  in_rect(layout::segment_rect(digit, other), x, y));
          const std::uint32_t want = lit || covered ? layout::kOnColor : layout::kOffColor;
          const std::uint32_t got = image.at(where.x + x, where.y + y);
          if (got != want)
            return "digit " + std::to_string(digit + 1) + " does not read " +
                   std::to_string(layout::digit_of(value, digit)) + ": segment " +
                   std::string(1, static_cast<char>('a' + segment)) + " at (" +
                   std::to_string(where.x + x) + "," + std::to_string(where.y + y) + ") is " +
                   hex(got) + ", not " + hex(want) + (lit ? " (lit)" : " (unlit)");
        }
    }
  }
  return "";
}

std::size_t distinct_colors(const Image &image, Placement where)
{
  std::set<std::uint32_t> colors;
  for (int y = 0; y < layout::kHeight; y++)
    for (int x = 0; x < layout::kWidth; x++)
      colors.insert(image.at(where.x + x, where.y + y));
  return colors.size();
}

std::size_t distinct_colors(const Image &image)
{
  return std::set<std::uint32_t>(image.pixels.begin(), image.pixels.end()).size();
}

std::size_t differing_pixels(const Image &a, const Image &b)
{
  if (a.width != b.width || a.height != b.height)
    return std::max(a.pixels.size(), b.pixels.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.pixels.size(); i++)
    n += a.pixels[i] != b.pixels[i];
  return n;
}

std::size_t differing_pixels_outside(const Image &a, const Image &b, Placement where)
{
  if (a.width != b.width || a.height != b.height)
    return std::max(a.pixels.size(), b.pixels.size());
  std::size_t n = 0;
  for (int y = 0; y < a.height; y++)
    for (int x = 0; x < a.width; x++)
      n += !inside(where, x, y) && a.at(x, y) != b.at(x, y);
  return n;
}

std::optional<Placement> find_terminal_point(const Image &image, Placement counter,
                                             std::uint32_t desktop)
{
  std::map<std::uint32_t, std::size_t> counts;
  for (int y = 0; y < image.height; y++)
    for (int x = 0; x < image.width; x++)
      if (!inside(counter, x, y) && image.at(x, y) != desktop)
        counts[image.at(x, y)]++;
  if (counts.empty())
    return std::nullopt;
  const std::uint32_t background =
      std::max_element(counts.begin(), counts.end(),
                       [](const auto &a, const auto &b) { return a.second < b.second; })
          ->first;
  // Nearest to the middle of that colour's pixels: away from the
  // window's edges (a click on its border starts a resize, not a focus).
  long long sum_x = 0, sum_y = 0, n = 0;
  for (int y = 0; y < image.height; y++)
    for (int x = 0; x < image.width; x++)
      if (!inside(counter, x, y) && image.at(x, y) == background) {
        sum_x += x;
        sum_y += y;
        n++;
      }
  const int middle_x = static_cast<int>(sum_x / n), middle_y = static_cast<int>(sum_y / n);
  constexpr int kHalf = 7;
  const auto uniform = [&](int cx, int cy) {
    for (int y = cy - kHalf; y <= cy + kHalf; y++)
      for (int x = cx - kHalf; x <= cx + kHalf; x++)
        if (inside(counter, x, y) || image.at(x, y) != background)
          return false;
    return true;
  };
  std::optional<Placement> best;
  long long best_distance = 0;
  for (int y = kHalf; y < image.height - kHalf; y += kHalf)
    for (int x = kHalf; x < image.width - kHalf; x += kHalf) {
      const long long distance = 1LL * (x - middle_x) * (x - middle_x) + 1LL * (y - middle_y) * (y - middle_y);
      if ((!best || distance < best_distance) && uniform(x, y)) {
        best = Placement{x, y};
        best_distance = distance;
      }
    }
  if (best)
    return best;
  return std::nullopt;
}

std::string verify_counter_screenshot(const Image &image, std::uint32_t value,
                                      std::string &summary)
{
  auto where = find_counter_window(image);
  if (!where)
    return "no counter window (a " + std::to_string(layout::kWidth) + "x" +
           std::to_string(layout::kHeight) + " frame of " + hex(layout::kFrameColor) +
           ") on the " + std::to_string(image.width) + "x" + std::to_string(image.height) +
           " screen";
  if (std::string wrong = check_counter(image, *where, value); !wrong.empty())
    return "the counter window at (" + std::to_string(where->x) + "," + std::to_string(where->y) +
           ") does not show " + std::to_string(value) + ": " + wrong;
  // The gradient alone has thousands; one colour would be a blank screen.
  const std::size_t colors = distinct_colors(image, *where);
  if (colors < 1000)
    return "the counter window has only " + std::to_string(colors) + " distinct colours";
  summary = "counter window at (" + std::to_string(where->x) + "," + std::to_string(where->y) +
            ") shows " + std::to_string(value) + ", " + std::to_string(colors) +
            " distinct colours in it";
  return "";
}

} // namespace dcp::test::wayland
