// SPDX-License-Identifier: GPL-2.0-or-later
// Reading weston-screenshooter's PNGs and proving what they show: where
// dcp-wayland-counter's window is (found by its frame), that its digits
// read a given value, that it is not one colour, and how two screenshots
// differ.  Used by test_wayland_session and by dcp-wayland-screenshot-check
// (scripts/demo-wayland.sh).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wayland_counter_layout.hpp"

namespace dcp::test::wayland {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint32_t> pixels;  // 0xRRGGBB, row by row
  std::uint32_t at(int x, int y) const { return pixels[static_cast<std::size_t>(y) * width + x]; }
};

// The PNG at `path`; throws std::runtime_error saying why it cannot.
Image load_png(const std::string &path);

struct Placement {
  int x = 0, y = 0;  // the window's top left corner on screen
};

// The counter window: the first kWidth x kHeight rectangle whose whole
// frame is kFrameColor.
std::optional<Placement> find_counter_window(const Image &image);

// "" if the window at `where` shows `value` (every pixel of each lit
// segment kOnColor, of each unlit one kOffColor); else what is wrong.
std::string check_counter(const Image &image, Placement where, std::uint32_t value);

// Distinct colours inside the window at `where`, or on the whole image.
std::size_t distinct_colors(const Image &image, Placement where);
std::size_t distinct_colors(const Image &image);

// Pixels that differ (sizes must match, else every pixel counts), and
// those of them outside the window at `where`.
std::size_t differing_pixels(const Image &a, const Image &b);
std::size_t differing_pixels_outside(const Image &a, const Image &b, Placement where);

// A point to click on to give weston-terminal the keyboard: the centre of
// a 15x15 square of one colour that is neither `desktop` (weston.ini's
// background) nor inside the counter window at `counter` — the terminal's
// background, the only other large area on screen.  Of such colours the
// most frequent one; the point nearest the middle of its pixels.
std::optional<Placement> find_terminal_point(const Image &image, Placement counter,
                                             std::uint32_t desktop);

// All of the above for one screenshot that must show `value`: "" if it
// does, else what is wrong; `summary` says where and how many colours.
std::string verify_counter_screenshot(const Image &image, std::uint32_t value,
                                      std::string &summary);

} // namespace dcp::test::wayland
