// SPDX-License-Identifier: GPL-2.0-or-later
// What dcp-wayland-counter draws, and where: shared by the app and the
// tests that check a screenshot shows it.  The window is kWidth x kHeight;
// a kBorder-wide frame of kFrameColor surrounds a colour gradient on which
// the counter (value mod 10000) is drawn as four seven-segment digits, lit
// segments in kOnColor, unlit ones in kOffColor.  Colours are 0xRRGGBB.
#pragma once

#include <array>
#include <cstdint>

namespace dcp::wayland_counter {

inline constexpr int kWidth = 360;
inline constexpr int kHeight = 200;
inline constexpr int kBorder = 4;
inline constexpr std::uint32_t kFrameColor = 0xff00ff;
inline constexpr std::uint32_t kOnColor = 0xffffff;
inline constexpr std::uint32_t kOffColor = 0x303030;
inline constexpr int kDigits = 4;

struct Rect {
  int x, y, width, height;
};

// Segments a..g of one digit: top, upper right, lower right, bottom, lower
// left, upper left, middle.
inline constexpr int kSegments = 7;
inline constexpr std::array<std::uint8_t, 10> kDigitSegments = {
    0b0111111, 0b0000110, 0b1011011, 0b1001111, 0b1100110,
    0b1101101, 0b1111101, 0b0000111, 0b1111111, 0b1101111};

// The digit cells, left to right (most significant first).
constexpr Rect digit_cell(int index) { return {30 + index * 80, 40, 60, 120}; }

constexpr Rect segment_rect(int index, int segment)
{
  const Rect c = digit_cell(index);
  constexpr int t = 12;  // stroke
  const int half = c.height / 2;
  switch (segment) {
  case 0: return {c.x, c.y, c.width, t};
  case 1: return {c.x + c.width - t, c.y, t, half};
  case 2: return {c.x + c.width - t, c.y + half, t, half};
  case 3: return {c.x, c.y + c.height - t, c.width, t};
  case 4: return {c.x, c.y + half, t, half};
  case 5: return {c.x, c.y, t, half};
  default: return {c.x, c.y + half - t / 2, c.width, t};
  }
}

// Digit `index` of `value` as shown (most significant first).
constexpr int digit_of(std::uint32_t value, int index)
{
  std::uint32_t v = value % 10000;
  for (int i = kDigits - 1; i > index; i--)
    v /= 10;
  return static_cast<int>(v % 10);
}

constexpr bool segment_lit(std::uint32_t value, int index, int segment)
{
  return (kDigitSegments[digit_of(value, index)] >> segment) & 1;
}

// The gradient behind the digits: never the frame's or a segment's colour.
constexpr std::uint32_t background_color(int x, int y)
{
  const auto r = static_cast<std::uint32_t>(x * 255 / kWidth);
  const auto g = static_cast<std::uint32_t>(y * 255 / kHeight);
  return (r << 16) | (g << 8) | 0x60;
}

} // namespace dcp::wayland_counter
