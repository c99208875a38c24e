// SPDX-License-Identifier: GPL-2.0-or-later
// What every benchmark program shares: its command line, repeated
// measurements summarised as median / min / max, the tables it prints, and
// the JSON lines it writes for scripts/bench.sh's report.
#pragma once

#include <chrono>
#include <cstddef>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace dcp::bench {

using Clock = std::chrono::steady_clock;

// Seconds (or milliseconds) between two instants, as a double.
double seconds_between(Clock::time_point from, Clock::time_point to);
double milliseconds_between(Clock::time_point from, Clock::time_point to);

// --runs N (>= 5), --scale F (work per measurement), --json FILE.
struct BenchOptions {
  unsigned runs = 5;
  double scale = 1.0;
  std::string json_path;
};
BenchOptions parse_bench_options(int argc, char **argv, const char *usage,
                                 unsigned default_runs = 5);

// Work per measurement: `base` scaled by --scale, at least 1.
std::size_t scaled(std::size_t base, const BenchOptions &options);

// The measurements of one figure, one per run.
struct Samples {
  std::vector<double> values;

  void add(double value) { values.push_back(value); }
  bool empty() const { return values.empty(); }
  double median() const;
  double min() const;
  double max() const;
};

// value[i] / base[i] for each run i: ratios of the same run, so that load
// from other processes on the machine cancels out as far as it can.
Samples paired_ratios(const Samples &value, const Samples &base);

// One printed and recorded figure: "what" under "group", for "subject"
// (a daemon, a peer count), in "unit".
struct Figure {
  std::string group;
  std::string what;
  std::string subject;
  std::string unit;
  Samples samples;
};

// Prints figures as an aligned table and appends them, one JSON object a
// line, to the --json file (if any).
class Report {
 public:
  explicit Report(const BenchOptions &options);
  void add(Figure figure);
  // A sentence about a group (why a figure is missing, say): printed
  // under its table and written as {"group": ..., "note": ...}.
  void add_note(const std::string &group, const std::string &text);
  // The figures of one group, under a title.
  void print_table(const std::string &title, const std::string &group) const;
  const std::vector<Figure> &figures() const { return figures_; }

 private:
  void write_json(const Figure &figure);
  std::vector<Figure> figures_;
  std::vector<std::pair<std::string, std::string>> notes_;  // group, text
  std::ofstream json_;
};

// One line per "cold / restore" figure of the report: "SUBJECT: restore
// wins, 25x as fast" or "SUBJECT: cold start wins: restore takes 1.5x as
// long".
void print_verdicts(const Report &report);

// A figure as the tables print it: 3 significant digits or so.
std::string format_number(double value);

// Lets this process (and the daemons it starts) hold thousands of sockets.
void raise_open_file_limit(unsigned long wanted);

// For a benchmark that runs CRIU: throws unless root (CRIU needs it), and
// makes this process a child subreaper, so that what CRIU restores ends up
// its child and is reaped by it.
void become_criu_parent();

// main() of a benchmark: runs `body`; on an exception prints
// "program: what" and returns 1, else 0.
int run_benchmark(const char *program, const std::function<void()> &body);

// A progress line on stderr, so stdout keeps only the tables.
void progress(const std::string &text);

} // namespace dcp::bench
