// SPDX-License-Identifier: GPL-2.0-or-later
// What the fuzz targets share: a failed invariant aborts (libFuzzer then
// reports the input as a crash), and a scratch directory made once.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace dcp::fuzz {

[[noreturn]] inline void invariant_failed(const char *what)
{
  std::fprintf(stderr, "fuzz invariant failed: %s\n", what);
  std::abort();
}

inline void require(bool condition, const char *what)
{
  if (!condition)
    invariant_failed(what);
}

// A private directory (0700) for this process, made on first use, in
// memory (/dev/shm) where there is one: a file per execution on a disk
// costs 100 times the parse.
struct ScratchDir {
  std::string path;
  ~ScratchDir()
  {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

inline const std::string &scratch_dir()
{
  static const ScratchDir dir{[] {
    char pattern[] = "/dev/shm/dcp-fuzz-XXXXXX";
    if (mkdtemp(pattern))
      return std::string(pattern);
    std::snprintf(pattern, sizeof pattern, "/tmp/dcp-fuzz-XXXXXX");
    if (!mkdtemp(pattern))
      invariant_failed("mkdtemp");
    return std::string(pattern);
  }()};
  return dir.path;
}

} // namespace dcp::fuzz
