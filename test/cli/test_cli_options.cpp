// SPDX-License-Identifier: GPL-2.0-or-later
// The CLI's one option table (cli/arguments.hpp) against what it drives:
// the man page lists exactly its options, every subcommand refuses the
// options it does not take with a clear usage error (exit status 2), and
// the --help texts are made from it.
#define BOOST_TEST_MODULE cli_options
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cli/arguments.hpp"
#include "process.hpp"

using namespace dbus_checkpoint::cli;

namespace {

std::string long_spelling(const OptionSpec &option)
{
  return std::string("--") + option.long_name;
}

// The options the man page's OPTIONS section names in its .TP tags
// ("\-D", "\-\-images\-dir"), roff escapes undone.
std::set<std::string> man_page_options()
{
  std::ifstream page(DCP_MAN_PAGE);
  BOOST_REQUIRE_MESSAGE(page, "cannot read " DCP_MAN_PAGE);
  std::set<std::string> options;
  bool in_options = false, tag_next = false;
  const std::regex option_word(R"((^|[ ",])(--[a-z][a-z-]*|-[A-Za-z])(?=$|[ ",]))");
  for (std::string line; std::getline(page, line);) {
    if (line.starts_with(".SH "))
      in_options = line == ".SH OPTIONS";
    if (!in_options)
      continue;
    if (line == ".TP") {
      tag_next = true;
      continue;
    }
    if (!tag_next)
      continue;
    tag_next = false;
    std::string tag = std::regex_replace(line, std::regex(R"(\\f[A-Z])"), " ");
    tag = std::regex_replace(tag, std::regex(R"(\\-)"), "-");
    for (std::sregex_iterator it(tag.begin(), tag.end(), option_word), end; it != end; ++it)
      options.insert((*it)[2]);
  }
  return options;
}

std::vector<std::string> arguments_giving(Subcommand subcommand, const OptionSpec &option)
{
  std::vector<std::string> arguments = {to_string(subcommand), long_spelling(option)};
  if (option.value_name)
    arguments.push_back("7");
  return arguments;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_man_page_lists_exactly_the_options_of_the_table)
{
  const std::set<std::string> in_man = man_page_options();
  std::set<std::string> in_table;
  for (const OptionSpec &option : option_table()) {
    in_table.insert(long_spelling(option));
    if (option.short_name)
      in_table.insert(std::string("-") + option.short_name);
  }
  for (const std::string &option : in_table)
    BOOST_TEST(in_man.contains(option), option << " is in the table, not in the man page");
  for (const std::string &option : in_man)
    BOOST_TEST(in_table.contains(option), option << " is in the man page, not in the table");
  BOOST_TEST(in_table.size() >= 12u);
}

BOOST_AUTO_TEST_CASE(a_subcommand_refuses_the_options_it_does_not_take)
{
  std::size_t refusals = 0;
  for (const OptionSpec &option : option_table())
    for (Subcommand subcommand : all_subcommands()) {
      const std::string error = parse_arguments(arguments_giving(subcommand, option)).usage_error;
      const std::string refusal = to_string(subcommand) + ": " + long_spelling(option) +
                                  " is an option of " + subcommands_taking(option);
      if (option.subcommands & only(subcommand)) {
        BOOST_TEST(error.find(" is an option of ") == std::string::npos, error);
      } else {
        BOOST_TEST(error == refusal);
        ++refusals;
      }
    }
  BOOST_TEST(refusals > 0u);
  // A short spelling is named as given.
  BOOST_TEST(parse_arguments({"thaw", "ID", "-D", "d"}).usage_error ==
             "thaw: -D is an option of checkpoint, restore, migrate and receive");
}

BOOST_AUTO_TEST_CASE(an_option_not_taken_is_a_usage_error_of_the_program)
{
  auto refused = dcp::test::run_command({DCP_CLI, "list", "--pid", "42"});
  BOOST_TEST(refused.exit_status == 2, refused.describe());
  BOOST_TEST(refused.err.find("list: --pid is an option of checkpoint") != std::string::npos,
             refused.describe());
}

BOOST_AUTO_TEST_CASE(abbreviations_and_empty_values_are_refused_as_before)
{
  // getopt_long takes unambiguous prefixes; the CLI never did.
  BOOST_TEST(parse_arguments({"list", "--js"}).usage_error == "unknown option '--js'");
  BOOST_TEST(parse_arguments({"--addr=unix:path=/x", "list"}).usage_error ==
             "unknown option '--addr'");
  BOOST_TEST(parse_arguments({"list", "--address="}).usage_error ==
             "option '--address' needs a value");
  BOOST_TEST(parse_arguments({"list", "-x"}).usage_error == "unknown option '-x'");
  auto ended = parse_arguments({"thaw", "--", "--json"});
  BOOST_TEST(ended.usage_error == "");
  BOOST_TEST(ended.invocation.target == "--json");
}

BOOST_AUTO_TEST_CASE(the_help_texts_come_from_the_table)
{
  const std::string usage = program_usage();
  for (const OptionSpec &option : option_table()) {
    BOOST_TEST(usage.find(long_spelling(option)) != std::string::npos, option.long_name);
    for (Subcommand subcommand : all_subcommands()) {
      const bool own = option.subcommands != kEverySubcommand && (option.subcommands & only(subcommand));
      if (own)
        BOOST_TEST(subcommand_usage(subcommand).find(long_spelling(option)) != std::string::npos,
                   to_string(subcommand) << " --help lacks " << option.long_name);
    }
  }
}

BOOST_AUTO_TEST_CASE(lazy_pages_options_take_a_size_or_nothing)
{
  BOOST_TEST(parse_arguments({"restore", "-D", "d"}).invocation.lazy_pages_above.value_or(1) ==
             64ull << 20);
  for (const auto &[text, bytes] : std::vector<std::pair<std::string, std::uint64_t>>{
           {"0", 0}, {"4096", 4096}, {"1M", 1ull << 20}, {"64MiB", 64ull << 20},
           {"512K", 512ull << 10}, {"2G", 2ull << 30}}) {
    auto parsed = parse_arguments({"restore", "--lazy-pages-above", text, "-D", "d"});
    BOOST_TEST(parsed.usage_error == "", text);
    BOOST_TEST(parsed.invocation.lazy_pages_above.value_or(1) == bytes, text);
  }
  BOOST_TEST(!parse_arguments({"restore", "--no-lazy-pages", "-D", "d"})
                  .invocation.lazy_pages_above.has_value());
  for (const char *bad : {"12X", "-1", "1.5M", "M", "99999999999T"})
    BOOST_TEST(parse_arguments({"restore", "--lazy-pages-above", bad, "-D", "d"}).usage_error ==
                   std::string("restore: --lazy-pages-above needs a size (bytes, or with K, M, G: "
                               "64M; 0 = always), not '") + bad + "'",
               bad);
  BOOST_TEST(parse_arguments({"restore", "--no-lazy-pages", "--lazy-pages-above", "1M", "-D", "d"})
                 .usage_error == "restore: give --lazy-pages-above SIZE or --no-lazy-pages, not both");
  auto refused = dcp::test::run_command({DCP_CLI, "restore", "--lazy-pages-above", "lots", "-D", "d"});
  BOOST_TEST(refused.exit_status == 2, refused.describe());
  BOOST_TEST(refused.err.find("--lazy-pages-above needs a size") != std::string::npos,
             refused.describe());
}

BOOST_AUTO_TEST_CASE(migrate_needs_a_page_server_address_and_port)
{
  for (const auto &[text, address, port] : std::vector<std::tuple<std::string, std::string, unsigned>>{
           {"10.0.0.1:27000", "10.0.0.1", 27000}, {"host-b.example:1", "host-b.example", 1},
           {"[2001:db8::1]:65535", "2001:db8::1", 65535}}) {
    auto parsed = parse_arguments({"migrate", "org.example.A", "-D", "d", "--page-server", text});
    BOOST_TEST(parsed.usage_error == "", text);
    BOOST_TEST(parsed.invocation.page_server_address == address, text);
    BOOST_TEST(parsed.invocation.page_server_port == port, text);
  }
  for (const char *bad : {"10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", ":27000", "2001:db8::1:27000",
                          "[::1:27000", "-x:1", "a b:1", "h:1x"})
    BOOST_TEST(parse_arguments({"migrate", "n", "-D", "d", "--page-server", bad}).usage_error ==
                   std::string("migrate: --page-server needs ADDRESS:PORT (an address of this host, a "
                               "port from 1 to 65535), not '") + bad + "'",
               bad);
  BOOST_TEST(parse_arguments({"migrate", "n", "-D", "d"}).usage_error ==
             "migrate: missing --page-server ADDRESS:PORT");
  BOOST_TEST(parse_arguments({"migrate", "-D", "d", "--page-server", "h:1"}).usage_error ==
             "migrate: missing NAME or --pid PID");
  BOOST_TEST(parse_arguments({"migrate", "n", "--pid", "5", "-D", "d", "--page-server", "h:1"})
                 .usage_error == "migrate: give NAME or --pid PID, not both");
  BOOST_TEST(parse_arguments({"migrate", "n", "--page-server", "h:1"}).usage_error ==
             "migrate: missing -D DIR");
  BOOST_TEST(parse_arguments({"checkpoint", "n", "-D", "d", "--page-server", "h:1"}).usage_error ==
             "checkpoint: --page-server is an option of migrate");
}

BOOST_AUTO_TEST_CASE(receive_waits_whole_seconds_for_a_directory)
{
  auto parsed = parse_arguments({"receive", "-D", "d"});
  BOOST_TEST(parsed.usage_error == "");
  BOOST_TEST(parsed.invocation.receive_wait.count() == 600);
  BOOST_TEST(parse_arguments({"receive", "-D", "d", "--wait", "5"}).invocation.receive_wait.count() == 5);
  for (const char *bad : {"0", "86401", "1.5", "x", "-3"})
    BOOST_TEST(parse_arguments({"receive", "-D", "d", "--wait", bad}).usage_error ==
                   std::string("receive: --wait needs whole seconds from 1 to 86400, not '") + bad + "'",
               bad);
  BOOST_TEST(parse_arguments({"receive"}).usage_error == "receive: missing -D DIR");
  BOOST_TEST(parse_arguments({"restore", "-D", "d", "--wait", "5"}).usage_error ==
             "restore: --wait is an option of receive");
}
