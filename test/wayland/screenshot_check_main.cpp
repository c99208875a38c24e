// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-wayland-screenshot-check PNG VALUE [--same-as OTHER.png]: does the
// screenshot show dcp-wayland-counter's window reading VALUE (and is it
// pixel for pixel OTHER.png)?  For scripts/demo-wayland.sh; --colors PNG
// for test/wayland/session.sh.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "screenshot.hpp"

namespace wl = dcp::test::wayland;

int main(int argc, char **argv)
{
  if (argc == 2 && std::strcmp(argv[1], "--help") == 0) {
    std::puts("Usage: dcp-wayland-screenshot-check PNG VALUE [--same-as OTHER.png]\n"
              "       dcp-wayland-screenshot-check --colors PNG\n"
              "Exit 0 if PNG shows the dcp-wayland-counter window reading VALUE (found by\n"
              "its frame, every segment checked, not one colour) and, with --same-as, is\n"
              "pixel for pixel OTHER.png; 1 (saying why) if not; 2 on bad arguments.\n"
              "--colors prints how many distinct colours the whole screenshot has.");
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--colors") == 0) {
    try {
      std::printf("%zu\n", wl::distinct_colors(wl::load_png(argv[2])));
      return 0;
    } catch (const std::exception &e) {
      std::fprintf(stderr, "dcp-wayland-screenshot-check: %s\n", e.what());
      return 1;
    }
  }
  if (!(argc == 3 || (argc == 5 && std::strcmp(argv[3], "--same-as") == 0))) {
    std::fputs("usage: dcp-wayland-screenshot-check PNG VALUE [--same-as OTHER.png]\n", stderr);
    return 2;
  }
  char *end = nullptr;
  const unsigned long value = std::strtoul(argv[2], &end, 10);
  if (*argv[2] == '\0' || *end != '\0') {
    std::fprintf(stderr, "dcp-wayland-screenshot-check: VALUE must be a number, not '%s'\n", argv[2]);
    return 2;
  }
  try {
    const wl::Image image = wl::load_png(argv[1]);
    std::string summary;
    if (std::string wrong = wl::verify_counter_screenshot(image, value, summary); !wrong.empty()) {
      std::fprintf(stderr, "%s: %s\n", argv[1], wrong.c_str());
      return 1;
    }
    std::printf("%s: %s\n", argv[1], summary.c_str());
    if (argc == 5) {
      const std::size_t differ = wl::differing_pixels(image, wl::load_png(argv[4]));
      if (differ != 0) {
        std::fprintf(stderr, "%s and %s differ in %zu pixels\n", argv[1], argv[4], differ);
        return 1;
      }
      std::printf("%s: identical to %s, pixel for pixel\n", argv[1], argv[4]);
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "dcp-wayland-screenshot-check: %s\n", e.what());
    return 1;
  }
  return 0;
}
