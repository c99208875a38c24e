// SPDX-License-Identifier: GPL-2.0-or-later
// base/files.hpp: what a checkpoint's images take.
#define BOOST_TEST_MODULE base_files
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "base/files.hpp"

namespace fs = std::filesystem;
using dbus_checkpoint::base::image_bytes;

BOOST_AUTO_TEST_CASE(image_bytes_count_regular_files_but_not_logs)
{
  const fs::path dir = fs::temp_directory_path() / ("dcp-base-files-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "pages-1.img") << std::string(1000, 'p');
  std::ofstream(dir / "core-42.img") << std::string(24, 'c');
  std::ofstream(dir / "dump.log") << std::string(5000, 'l');     // CRIU's log
  std::ofstream(dir / "sub" / "x.img") << std::string(70, 's');  // not directly in dir
  BOOST_TEST(image_bytes(dir) == 1024u);
  BOOST_TEST(image_bytes(dir / "missing") == 0u);
  fs::remove_all(dir);
}
