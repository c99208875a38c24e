// SPDX-License-Identifier: GPL-2.0-or-later
// The thread that writes the daemon's records (issue 12, finding 5b): saves
// of one id coalesce, a remove or a synchronous save is never undone by an
// older write, what is queued is written before the writer goes, and a
// failed write reaches the log callback (on the writer's thread, which
// leaves signals to the daemon's main thread).
#define BOOST_TEST_MODULE record_state_writer
#include <boost/test/unit_test.hpp>

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "record/record.hpp"
#include "record/state_dir.hpp"
#include "record/state_writer.hpp"
#include "record_fixtures.hpp"

namespace fs = std::filesystem;
namespace rec = dbus_checkpoint::record;
using namespace std::chrono_literals;
using dcp::test::TemporaryDirectory;

namespace {

constexpr char kId[] = "0123456789abcdef0123456789abcdef";
constexpr char kOtherId[] = "fedcba9876543210fedcba9876543210";
// Long enough that a save handed over just before is still being written.
constexpr auto kSlowWrite = 400ms;

// A record that serializes, told apart from its other versions by its
// next_bus_serial.
rec::FrozenConnection record_version(const char *checkpoint_id, std::uint32_t version)
{
  auto decoded = rec::decode(dcp::test::serialize(dcp::test::make_minimal_record(checkpoint_id).get()));
  BOOST_REQUIRE(decoded);
  rec::FrozenConnection record = std::move(decoded).value();
  record.set_next_bus_serial(version);
  return record;
}

fs::path record_path(const fs::path &dir, const char *checkpoint_id)
{
  return dir / rec::record_file_name(checkpoint_id);
}

// The version in DIR/<id>.record; 0 when there is none.
std::uint32_t version_on_disk(const fs::path &dir, const char *checkpoint_id)
{
  std::ifstream file(record_path(dir, checkpoint_id), std::ios::binary);
  if (!file)
    return 0;
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto decoded = rec::decode(bytes);
  BOOST_REQUIRE(decoded);
  return decoded.value().next_bus_serial();
}

// What the writer's thread logged.
struct FailureLog {
  std::mutex mutex;
  std::vector<std::string> sentences;

  rec::StateWriter::FailureLog callback()
  {
    return [this](const std::string &sentence) {
      std::lock_guard lock(mutex);
      sentences.push_back(sentence);
    };
  }
  std::vector<std::string> logged()
  {
    std::lock_guard lock(mutex);
    return sentences;
  }
};

struct Fixture {
  TemporaryDirectory dir;
  FailureLog failures;
};

std::chrono::milliseconds since(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

} // namespace

BOOST_FIXTURE_TEST_CASE(save_later_returns_before_the_write_and_the_file_follows, Fixture)
{
  rec::StateWriter writer(dir.path(), failures.callback(), {.delay_each_write = kSlowWrite});
  const auto start = std::chrono::steady_clock::now();
  writer.save_later(record_version(kId, 7));
  BOOST_TEST(since(start).count() < kSlowWrite.count() / 2, "the caller did not wait for the write");
  BOOST_TEST(version_on_disk(dir.path(), kId) == 0u);
  writer.flush();
  BOOST_TEST(version_on_disk(dir.path(), kId) == 7u);
  BOOST_TEST(failures.logged().empty());
}

BOOST_FIXTURE_TEST_CASE(saves_of_one_id_coalesce_into_the_newest, Fixture)
{
  rec::StateWriter writer(dir.path(), failures.callback(), {.delay_each_write = kSlowWrite});
  const auto start = std::chrono::steady_clock::now();
  writer.save_later(record_version(kId, 1));
  std::this_thread::sleep_for(kSlowWrite / 4);  // version 1 is being written
  for (std::uint32_t version = 2; version <= 10; ++version)
    writer.save_later(record_version(kId, version));
  writer.flush();
  const auto took = since(start);
  BOOST_TEST_MESSAGE("10 saves of one id written in " << took.count() << " ms");
  BOOST_TEST(version_on_disk(dir.path(), kId) == 10u);
  // Version 1 and then version 10 only: two slow writes, not ten.
  BOOST_TEST(took.count() < 4 * kSlowWrite.count());
}

BOOST_FIXTURE_TEST_CASE(remove_drops_a_pending_save_and_outlives_the_one_in_flight, Fixture)
{
  rec::StateWriter writer(dir.path(), failures.callback(), {.delay_each_write = kSlowWrite});
  writer.save_later(record_version(kId, 1));
  std::this_thread::sleep_for(kSlowWrite / 4);  // kId is being written
  writer.save_later(record_version(kId, 2));     // and this one is pending
  writer.save_later(record_version(kOtherId, 1));
  BOOST_TEST(static_cast<bool>(writer.remove(kId)));
  writer.flush();
  BOOST_TEST(!fs::exists(record_path(dir.path(), kId)), "nothing older came back after the remove");
  BOOST_TEST(version_on_disk(dir.path(), kOtherId) == 1u, "other ids are not affected");
  for (const auto &entry : fs::directory_iterator(dir.path()))
    BOOST_TEST(entry.path().filename().string() == rec::record_file_name(kOtherId),
               "no temporary file left: " << entry.path());
}

BOOST_FIXTURE_TEST_CASE(save_now_is_not_replaced_by_an_older_save_in_flight, Fixture)
{
  rec::StateWriter writer(dir.path(), failures.callback(), {.delay_each_write = kSlowWrite});
  writer.save_later(record_version(kId, 1));
  std::this_thread::sleep_for(kSlowWrite / 4);
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(static_cast<bool>(writer.save_now(record_version(kId, 2))));
  BOOST_TEST(since(start).count() < kSlowWrite.count() / 2,
             "save_now does not wait for the thread's write");
  BOOST_TEST(version_on_disk(dir.path(), kId) == 2u);
  writer.flush();
  BOOST_TEST(version_on_disk(dir.path(), kId) == 2u);
}

BOOST_FIXTURE_TEST_CASE(destroying_the_writer_writes_what_is_queued, Fixture)
{
  {
    rec::StateWriter writer(dir.path(), failures.callback(), {.delay_each_write = kSlowWrite / 4});
    writer.save_later(record_version(kId, 3));
    writer.save_later(record_version(kOtherId, 4));
  }
  BOOST_TEST(version_on_disk(dir.path(), kId) == 3u);
  BOOST_TEST(version_on_disk(dir.path(), kOtherId) == 4u);
}

BOOST_FIXTURE_TEST_CASE(a_failed_write_is_logged_by_the_thread, Fixture)
{
  const fs::path not_a_dir = dir.path() / "file";
  std::ofstream(not_a_dir) << "x";
  const fs::path state_dir = not_a_dir / "checkpoint";
  std::thread::id logged_on;
  bool signals_blocked = false;
  std::vector<std::string> sentences;
  {
    rec::StateWriter writer(state_dir, [&](const std::string &sentence) {
      logged_on = std::this_thread::get_id();
      sigset_t mask;
      ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
      signals_blocked = ::sigismember(&mask, SIGHUP) == 1 && ::sigismember(&mask, SIGTERM) == 1;
      sentences.push_back(sentence);
    });
    writer.save_later(record_version(kId, 1));
    writer.flush();
    // A record that does not serialize (no credentials) is logged too.
    rec::StateWriter valid_dir(dir.path(), failures.callback());
    rec::FrozenConnection invalid = record_version(kOtherId, 1);
    invalid.clear_credentials();
    valid_dir.save_later(std::move(invalid));
    valid_dir.flush();
  }
  BOOST_REQUIRE_EQUAL(sentences.size(), 1u);
  BOOST_TEST(sentences[0] == "Cannot write the record of checkpoint " + std::string(kId) + " in " +
                                 state_dir.string() + ": Not a directory");
  BOOST_TEST((logged_on != std::this_thread::get_id()), "logged on the writer's thread");
  BOOST_TEST(signals_blocked, "the daemon's signals are left to its main thread");
  BOOST_REQUIRE_EQUAL(failures.logged().size(), 1u);
  BOOST_TEST(failures.logged()[0] == "Cannot write the record of checkpoint " +
                                         std::string(kOtherId) + " in " + dir.path().string() +
                                         ": Invalid argument");
  BOOST_TEST(!fs::exists(record_path(dir.path(), kOtherId)));
}

// The daemon's side: dcp_state_writer_save() takes the record, and what it
// hands over is written by the time dcp_state_writer_free() returns.
BOOST_FIXTURE_TEST_CASE(the_c_abi_takes_the_record_and_flushes_when_freed, Fixture)
{
  struct Logged {
    static void log(void *user_data, const char *sentence)
    {
      static_cast<std::vector<std::string> *>(user_data)->push_back(sentence);
    }
  };
  std::vector<std::string> sentences;
  DcpStateWriter *writer = dcp_state_writer_new(dir.path().c_str(), &Logged::log, &sentences);
  BOOST_REQUIRE(writer != nullptr);
  BOOST_TEST(dcp_state_writer_save(writer, dcp::test::make_minimal_record(kId).release()) == 0);
  BOOST_TEST(dcp_state_writer_save(writer, nullptr) == -EINVAL);
  BOOST_TEST(dcp_state_writer_save_now(writer, dcp::test::make_minimal_record(kOtherId).get()) == 0);
  BOOST_TEST(fs::exists(record_path(dir.path(), kOtherId)));
  dcp_state_writer_free(writer);
  BOOST_TEST(fs::exists(record_path(dir.path(), kId)));
  BOOST_TEST(sentences.empty());

  writer = dcp_state_writer_new(dir.path().c_str(), &Logged::log, &sentences);
  BOOST_TEST(dcp_state_writer_remove(writer, kId) == 0);
  BOOST_TEST(dcp_state_writer_remove(writer, "not an id") == -EINVAL);
  dcp_state_writer_free(writer);
  BOOST_TEST(!fs::exists(record_path(dir.path(), kId)));
  BOOST_TEST(dcp_state_writer_new("", &Logged::log, &sentences) == nullptr);
}
