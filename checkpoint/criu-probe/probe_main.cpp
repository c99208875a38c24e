// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-criu-probe: does this CRIU work here?  Dumps and restores a small test
// process (see criu_probe.hpp).  Exit status 0: it works; 1: it does not (the
// reason on stderr); 2: usage.
#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "criu-probe/criu_probe.hpp"

namespace {

constexpr const char *kUsage =
    "Usage: dcp-criu-probe [--criu PATH] [--time-limit SECONDS] [--work-dir DIR]\n"
    "                      [--keep] [--advice TEXT]\n"
    "Dump and restore a small test process (a session leader holding a unix\n"
    "socketpair and a UDP socket on 127.0.0.1) with CRIU, within one time limit,\n"
    "and check that the restored process still answers.  `criu check` cannot tell\n"
    "whether CRIU works: this does.  Run as root.\n"
    "\n"
    "  --criu PATH          the criu to probe (default: criu in PATH, /usr/sbin/criu)\n"
    "  --time-limit SECONDS for everything; a criu still running then is killed\n"
    "                       (default 20)\n"
    "  --work-dir DIR       make the scratch directory in DIR (default $TMPDIR, /tmp)\n"
    "  --keep               keep the images and logs (always kept on failure)\n"
    "  --advice TEXT        what to tell the user when CRIU does not work\n"
    "  --help               this text\n"
    "\n"
    "Exit status: 0 CRIU works, 1 it does not (the reason, CRIU's errors and the end\n"
    "of its log on stderr), 2 usage error.\n";

std::string default_criu()
{
  for (const char *candidate : {"/usr/sbin/criu", "/sbin/criu", "/usr/local/sbin/criu"})
    if (std::FILE *file = std::fopen(candidate, "r")) {
      std::fclose(file);
      return candidate;
    }
  return "criu";
}

} // namespace

int main(int argc, char **argv)
{
  dbus_checkpoint::criu::ProbeOptions options;
  options.executable = default_criu();
  options.advice = "use CRIU >= 4.2 (dbus-checkpoint's build compiles 4.2.1 with -DDCP_CRIU=BUILD)";
  enum { kCriu = 1, kTimeLimit, kWorkDir, kKeep, kAdvice, kHelp };
  static const option long_options[] = {
      {"criu", required_argument, nullptr, kCriu},
      {"time-limit", required_argument, nullptr, kTimeLimit},
      {"work-dir", required_argument, nullptr, kWorkDir},
      {"keep", no_argument, nullptr, kKeep},
      {"advice", required_argument, nullptr, kAdvice},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0}};
  for (int option; (option = ::getopt_long(argc, argv, "", long_options, nullptr)) != -1;) {
    switch (option) {
    case kCriu:
      options.executable = optarg;
      break;
    case kTimeLimit: {
      char *end = nullptr;
      double seconds = std::strtod(optarg, &end);
      if (!end || *end || seconds <= 0 || seconds > 3600) {
        std::cerr << "dcp-criu-probe: --time-limit takes seconds (0 < s <= 3600), not '"
                  << optarg << "'\n";
        return 2;
      }
      options.time_limit = std::chrono::milliseconds(static_cast<long>(seconds * 1000));
      break;
    }
    case kWorkDir:
      options.work_dir = optarg;
      break;
    case kKeep:
      options.keep_images = true;
      break;
    case kAdvice:
      options.advice = optarg;
      break;
    case kHelp:
      std::cout << kUsage;
      return 0;
    default:
      std::cerr << kUsage;
      return 2;
    }
  }
  if (optind < argc) {
    std::cerr << "dcp-criu-probe: unexpected argument '" << argv[optind] << "'\n" << kUsage;
    return 2;
  }
  const auto result = dbus_checkpoint::criu::probe(options);
  if (!result.works) {
    std::cerr << "dcp-criu-probe: " << result.message << "\n";
    return 1;
  }
  std::cout << "dcp-criu-probe: " << result.message << "\n";
  return 0;
}
