// SPDX-License-Identifier: GPL-2.0-or-later
#include "bench_support.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <getopt.h>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace dcp::bench {
namespace {

[[noreturn]] void usage_error(const char *usage, const std::string &why)
{
  std::cerr << why << "\n" << usage;
  std::exit(2);
}

std::string json_string(const std::string &text)
{
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

} // namespace

void become_criu_parent()
{
  if (geteuid() != 0)
    throw std::runtime_error("needs root: CRIU does");
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    throw std::runtime_error(std::string("PR_SET_CHILD_SUBREAPER: ") + std::strerror(errno));
}

void print_verdicts(const Report &report)
{
  std::cout << "\n";
  for (const Figure &f : report.figures()) {
    if (f.what != "cold / restore")
      continue;
    const double ratio = f.samples.median();
    std::cout << f.subject << ": "
              << (ratio >= 1 ? "restore wins, " + format_number(ratio) + "x as fast"
                             : "cold start wins: restore takes " + format_number(1 / ratio) +
                                   "x as long")
              << "\n";
  }
  std::cout.flush();
}

std::string format_number(double value)
{
  std::ostringstream s;
  if (value >= 100)
    s << std::fixed << std::setprecision(0) << value;
  else if (value >= 1)
    s << std::fixed << std::setprecision(2) << value;
  else
    s << std::setprecision(3) << value;
  return s.str();
}

double seconds_between(Clock::time_point from, Clock::time_point to)
{
  return std::chrono::duration<double>(to - from).count();
}

double milliseconds_between(Clock::time_point from, Clock::time_point to)
{
  return std::chrono::duration<double, std::milli>(to - from).count();
}

BenchOptions parse_bench_options(int argc, char **argv, const char *usage,
                                 unsigned default_runs)
{
  enum { kRuns = 1, kScale, kJson, kHelp };
  const struct option long_options[] = {
      {"runs", required_argument, nullptr, kRuns},
      {"scale", required_argument, nullptr, kScale},
      {"json", required_argument, nullptr, kJson},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  BenchOptions options;
  options.runs = default_runs;
  int option;
  while ((option = getopt_long(argc, argv, "", long_options, nullptr)) != -1) {
    switch (option) {
    case kRuns: options.runs = static_cast<unsigned>(std::strtoul(optarg, nullptr, 10)); break;
    case kScale: options.scale = std::strtod(optarg, nullptr); break;
    case kJson: options.json_path = optarg; break;
    case kHelp: std::cout << usage; std::exit(0);
    default: usage_error(usage, "unknown option or missing value");
    }
  }
  if (optind < argc)
    usage_error(usage, std::string("unexpected argument: ") + argv[optind]);
  if (options.runs < 5)
    usage_error(usage, "--runs must be at least 5");
  if (!(options.scale > 0))
    usage_error(usage, "--scale must be positive");
  return options;
}

std::size_t scaled(std::size_t base, const BenchOptions &options)
{
  return std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(base) *
                                                           options.scale));
}

double Samples::median() const
{
  if (values.empty())
    return 0;
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  std::size_t middle = sorted.size() / 2;
  return sorted.size() % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

double Samples::min() const
{
  return values.empty() ? 0 : *std::min_element(values.begin(), values.end());
}

double Samples::max() const
{
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

Samples paired_ratios(const Samples &value, const Samples &base)
{
  Samples ratios;
  std::size_t n = std::min(value.values.size(), base.values.size());
  for (std::size_t i = 0; i < n; i++)
    if (base.values[i] != 0)
      ratios.add(value.values[i] / base.values[i]);
  return ratios;
}

Report::Report(const BenchOptions &options)
{
  if (options.json_path.empty())
    return;
  json_.open(options.json_path, std::ios::app);
  if (!json_)
    throw std::runtime_error("cannot write " + options.json_path);
}

void Report::add(Figure figure)
{
  write_json(figure);
  figures_.push_back(std::move(figure));
}

void Report::add_note(const std::string &group, const std::string &text)
{
  notes_.emplace_back(group, text);
  if (json_.is_open())
    json_ << "{\"group\":" << json_string(group) << ",\"note\":" << json_string(text) << "}\n"
          << std::flush;
}

void Report::write_json(const Figure &figure)
{
  if (!json_.is_open())
    return;
  json_ << "{\"group\":" << json_string(figure.group) << ",\"what\":" << json_string(figure.what)
        << ",\"subject\":" << json_string(figure.subject)
        << ",\"unit\":" << json_string(figure.unit) << ",\"samples\":[";
  for (std::size_t i = 0; i < figure.samples.values.size(); i++)
    json_ << (i ? "," : "") << figure.samples.values[i];
  json_ << "],\"median\":" << figure.samples.median() << ",\"min\":" << figure.samples.min()
        << ",\"max\":" << figure.samples.max() << "}\n";
  json_.flush();
}

void Report::print_table(const std::string &title, const std::string &group) const
{
  std::cout << "\n" << title << "\n";
  std::cout << std::left << std::setw(44) << "figure" << std::setw(12) << "subject"
            << std::right << std::setw(12) << "median" << std::setw(12) << "min"
            << std::setw(12) << "max" << "  unit (runs)\n";
  for (const Figure &f : figures_) {
    if (f.group != group)
      continue;
    std::cout << std::left << std::setw(44) << f.what << std::setw(12) << f.subject
              << std::right << std::setw(12) << format_number(f.samples.median())
              << std::setw(12) << format_number(f.samples.min()) << std::setw(12)
              << format_number(f.samples.max()) << "  " << f.unit << " ("
              << f.samples.values.size() << ")\n";
  }
  for (const auto &[note_group, text] : notes_)
    if (note_group == group)
      std::cout << "note: " << text << "\n";
  std::cout.flush();
}

void raise_open_file_limit(unsigned long wanted)
{
  struct rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
    throw std::runtime_error(std::string("getrlimit: ") + std::strerror(errno));
  if (limit.rlim_cur >= wanted)
    return;
  limit.rlim_cur = wanted;
  limit.rlim_max = std::max<rlim_t>(limit.rlim_max, wanted);  // root may raise the hard limit
  if (setrlimit(RLIMIT_NOFILE, &limit) < 0)
    throw std::runtime_error("cannot raise RLIMIT_NOFILE to " + std::to_string(wanted) + ": " +
                             std::strerror(errno));
}

int run_benchmark(const char *program, const std::function<void()> &body)
{
  try {
    body();
    return 0;
  } catch (const std::exception &e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

void progress(const std::string &text)
{
  std::cerr << "[bench] " << text << std::endl;
}

} // namespace dcp::bench
