// SPDX-License-Identifier: GPL-2.0-or-later
// The state directory: records saved there load back after a restart, each
// save replaces its file atomically, and one bad file does not hide others.
#define BOOST_TEST_MODULE record_state_dir
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "record_fixtures.hpp"

namespace fs = std::filesystem;
using dcp::test::RecordPtr;
using dcp::test::TemporaryDirectory;

namespace {

constexpr char kOtherId[] = "fedcba9876543210fedcba9876543210";

// What dcp_state_load_all() reported for one file.
struct ReportedFile {
  std::string path;
  RecordPtr record;
  std::string error;
};

struct Collector {
  std::vector<ReportedFile> files;
  int stop_with = 0;

  static int collect(void *user_data, const char *path, DcpRecord *record, const char *error)
  {
    auto *self = static_cast<Collector *>(user_data);
    self->files.push_back({path, RecordPtr(record), error != nullptr ? error : ""});
    return self->stop_with;
  }
};

Collector load_all(const fs::path &dir)
{
  Collector collector;
  BOOST_REQUIRE_EQUAL(dcp_state_load_all(dir.c_str(), &Collector::collect, &collector), 0);
  return collector;
}

void save(const fs::path &dir, const DcpRecord *record)
{
  BOOST_REQUIRE_EQUAL(dcp_state_save(dir.c_str(), record), 0);
}

mode_t permissions_of(const fs::path &path)
{
  struct stat status {};
  BOOST_REQUIRE_EQUAL(::stat(path.c_str(), &status), 0);
  return status.st_mode & 07777;
}

std::set<std::string> names_in(const fs::path &dir)
{
  std::set<std::string> names;
  for (const auto &entry : fs::directory_iterator(dir))
    names.insert(entry.path().filename().string());
  return names;
}

void write_file(const fs::path &path, const std::string &content)
{
  std::ofstream(path, std::ios::binary) << content;
}

std::string record_file(const char *id) { return std::string(id) + ".record"; }

// Restores the umask a test changed.
class UmaskGuard {
public:
  explicit UmaskGuard(mode_t mask) : saved_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(saved_); }

private:
  mode_t saved_;
};

} // namespace

BOOST_AUTO_TEST_CASE(saved_records_load_back)
{
  TemporaryDirectory tmp;
  const fs::path dir = tmp.path() / "state";
  auto full = dcp::test::make_full_record();
  auto minimal = dcp::test::make_minimal_record(kOtherId);
  save(dir, minimal.get());
  save(dir, full.get());

  BOOST_TEST(names_in(dir) == (std::set<std::string>{record_file(dcp::test::kCheckpointId),
                                                     record_file(kOtherId)}),
             boost::test_tools::per_element());
  const Collector loaded = load_all(dir);
  BOOST_REQUIRE_EQUAL(loaded.files.size(), 2u);
  // In name order: 0123... before fedc...
  BOOST_TEST(loaded.files[0].path == (dir / record_file(dcp::test::kCheckpointId)).string());
  BOOST_TEST(loaded.files[0].error.empty());
  BOOST_REQUIRE(loaded.files[0].record);
  BOOST_TEST(dcp::test::serialize(loaded.files[0].record.get()) ==
             dcp::test::serialize(full.get()));
  BOOST_TEST(loaded.files[1].path == (dir / record_file(kOtherId)).string());
  BOOST_REQUIRE(loaded.files[1].record);
  BOOST_TEST(dcp::test::serialize(loaded.files[1].record.get()) ==
             dcp::test::serialize(minimal.get()));
}

BOOST_AUTO_TEST_CASE(save_replaces_the_file_atomically)
{
  TemporaryDirectory tmp;
  const fs::path path = tmp.path() / record_file(dcp::test::kCheckpointId);
  auto first = dcp::test::make_minimal_record();
  save(tmp.path(), first.get());
  const std::string first_bytes = dcp::test::serialize(first.get());
  dbus_checkpoint::base::UniqueFd old_file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  BOOST_REQUIRE(old_file);

  auto second = dcp::test::make_full_record();
  save(tmp.path(), second.get());

  // A reader that had the old file open still sees all of the old record:
  // the new one went to a new inode, renamed over the name.
  std::string old_content(first_bytes.size() + 1, '\0');
  const ssize_t n = ::pread(old_file.get(), old_content.data(), old_content.size(), 0);
  BOOST_TEST(std::string(old_content.data(), n > 0 ? n : 0) == first_bytes);
  // No temporary file is left behind.
  BOOST_TEST(names_in(tmp.path()) == std::set<std::string>{path.filename().string()},
             boost::test_tools::per_element());
  const Collector loaded = load_all(tmp.path());
  BOOST_REQUIRE_EQUAL(loaded.files.size(), 1u);
  BOOST_REQUIRE(loaded.files[0].record);
  BOOST_TEST(dcp::test::serialize(loaded.files[0].record.get()) ==
             dcp::test::serialize(second.get()));
}

BOOST_AUTO_TEST_CASE(record_file_is_0600_whatever_the_umask)
{
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{0277}}) {
    BOOST_TEST_CONTEXT("umask " << std::oct << mask)
    {
      TemporaryDirectory tmp;
      UmaskGuard umask(mask);
      save(tmp.path(), dcp::test::make_minimal_record().get());
      BOOST_TEST(permissions_of(tmp.path() / record_file(dcp::test::kCheckpointId)) == 0600u);
    }
  }
}

BOOST_AUTO_TEST_CASE(missing_directory_is_created_0700_with_parents)
{
  TemporaryDirectory tmp;
  UmaskGuard umask(022);
  const fs::path dir = tmp.path() / "var" / "lib" / "checkpoint";
  // A trailing slash names the same directory.
  BOOST_REQUIRE_EQUAL(dcp_state_save((dir.string() + "/").c_str(),
                                     dcp::test::make_minimal_record().get()),
                      0);
  BOOST_TEST(permissions_of(dir) == 0700u);
  BOOST_TEST(permissions_of(tmp.path() / "var") == 0755u); // parents as mkdir -p makes them
  BOOST_TEST(fs::is_regular_file(dir / record_file(dcp::test::kCheckpointId)));
}

BOOST_AUTO_TEST_CASE(existing_directory_keeps_its_mode)
{
  TemporaryDirectory tmp;
  BOOST_REQUIRE_EQUAL(::chmod(tmp.path().c_str(), 0750), 0);
  save(tmp.path(), dcp::test::make_minimal_record().get());
  BOOST_TEST(permissions_of(tmp.path()) == 0750u);
}

BOOST_AUTO_TEST_CASE(remove_deletes_and_tolerates_missing)
{
  TemporaryDirectory tmp;
  save(tmp.path(), dcp::test::make_minimal_record().get());
  save(tmp.path(), dcp::test::make_minimal_record(kOtherId).get());
  BOOST_TEST(dcp_state_remove(tmp.path().c_str(), dcp::test::kCheckpointId) == 0);
  BOOST_TEST(names_in(tmp.path()) == std::set<std::string>{record_file(kOtherId)},
             boost::test_tools::per_element());
  BOOST_TEST(dcp_state_remove(tmp.path().c_str(), dcp::test::kCheckpointId) == 0);
  BOOST_TEST(dcp_state_remove((tmp.path() / "missing").c_str(), kOtherId) == 0);
  BOOST_TEST(dcp_state_remove(tmp.path().c_str(), "../escape") == -EINVAL);
  BOOST_TEST(dcp_state_remove(tmp.path().c_str(), nullptr) == -EINVAL);
  BOOST_TEST(dcp_state_remove(nullptr, kOtherId) == -EINVAL);
}

// A record of another boot (issue 12, finding 8): dcp_record_new() writes
// this boot's id; another boot's record is restored at start-up only if
// kept across reboots, and set_aside renames it out of the loader's way.
BOOST_AUTO_TEST_CASE(records_of_another_boot_are_restored_only_if_kept)
{
  RecordPtr record = dcp::test::make_minimal_record();
  BOOST_TEST(dcp_record_is_restored_at_start_up(record.get()) == 1, "this boot's");
  void *bytes = nullptr;
  std::size_t n_bytes = 0;
  BOOST_REQUIRE_EQUAL(dcp_record_serialize(record.get(), &bytes, &n_bytes), 0);
  dbus_checkpoint::v1::FrozenConnection proto;
  BOOST_REQUIRE(proto.ParseFromArray(bytes, static_cast<int>(n_bytes)));
  std::free(bytes);
  BOOST_TEST(proto.boot_id() == dbus_checkpoint::record::current_boot_id());
  BOOST_TEST(proto.boot_id().size() == 36u);

  proto.set_boot_id("00000000-0000-4000-8000-000000000000");
  BOOST_TEST(!dbus_checkpoint::record::restored_at_start_up(proto), "another boot's");
  proto.set_keep_across_reboot(true);
  BOOST_TEST(dbus_checkpoint::record::restored_at_start_up(proto), "kept across reboots");
  proto.set_keep_across_reboot(false);
  proto.clear_boot_id();
  BOOST_TEST(dbus_checkpoint::record::restored_at_start_up(proto), "a record that does not say");

  TemporaryDirectory tmp;
  save(tmp.path(), record.get());
  BOOST_TEST(dcp_state_set_aside(tmp.path().c_str(), dcp::test::kCheckpointId) == 0);
  BOOST_TEST(names_in(tmp.path()) ==
                 std::set<std::string>{std::string(dcp::test::kCheckpointId) + ".other-boot"},
             boost::test_tools::per_element());
  Collector collector;
  BOOST_TEST(dcp_state_load_all(tmp.path().c_str(), Collector::collect, &collector) == 0);
  BOOST_TEST(collector.files.empty(), "set aside: no longer loaded");
  BOOST_TEST(dcp_state_set_aside(tmp.path().c_str(), "../escape") == -EINVAL);
}

BOOST_AUTO_TEST_CASE(bad_files_are_reported_and_the_others_loaded)
{
  TemporaryDirectory tmp;
  const fs::path &dir = tmp.path();
  save(dir, dcp::test::make_full_record().get());
  save(dir, dcp::test::make_minimal_record(kOtherId).get());
  const std::string garbage_name = "1111111111111111111111111111111a.record";
  write_file(dir / garbage_name, "\xff\xff\xff garbage");
  // A valid record under another id's name: renamed by hand, not by us.
  const std::string misnamed = "22222222222222222222222222222222.record";
  fs::copy_file(dir / record_file(kOtherId), dir / misnamed);
  fs::create_directory(dir / "33333333333333333333333333333333.record");
  // Not record files: skipped without a word.
  write_file(dir / "README", "notes");
  write_file(dir / ".hidden.record", "x");
  write_file(dir / ("." + std::string(kOtherId) + ".0123.tmp"), "half a record");
  write_file(dir / "x.record.tmp", "x");
  write_file(dir / ".record", "x");

  const Collector loaded = load_all(dir);
  BOOST_REQUIRE_EQUAL(loaded.files.size(), 5u);
  const auto &[first, garbage, wrong_name, directory, other] =
      std::tie(loaded.files[0], loaded.files[1], loaded.files[2], loaded.files[3],
               loaded.files[4]);
  BOOST_TEST(first.path == (dir / record_file(dcp::test::kCheckpointId)).string());
  BOOST_TEST(first.record);
  BOOST_TEST(garbage.path == (dir / garbage_name).string());
  BOOST_TEST(!garbage.record);
  BOOST_TEST(garbage.error.find("not a valid FrozenConnection protobuf") != std::string::npos);
  BOOST_TEST(wrong_name.path == (dir / misnamed).string());
  BOOST_TEST(!wrong_name.record);
  BOOST_TEST(wrong_name.error ==
             "it holds checkpoint_id \"" + std::string(kOtherId) +
                 "\", which does not match its file name");
  BOOST_TEST(!directory.record);
  BOOST_TEST(directory.error == "it is not a regular file");
  BOOST_TEST(other.path == (dir / record_file(kOtherId)).string());
  BOOST_TEST(other.record);
}

BOOST_AUTO_TEST_CASE(missing_directory_holds_no_records)
{
  TemporaryDirectory tmp;
  BOOST_TEST(load_all(tmp.path() / "never-created").files.empty());
  BOOST_TEST(!fs::exists(tmp.path() / "never-created"));
}

BOOST_AUTO_TEST_CASE(callback_can_stop_the_load)
{
  TemporaryDirectory tmp;
  save(tmp.path(), dcp::test::make_minimal_record().get());
  save(tmp.path(), dcp::test::make_minimal_record(kOtherId).get());
  Collector collector;
  collector.stop_with = -ECANCELED;
  BOOST_TEST(dcp_state_load_all(tmp.path().c_str(), &Collector::collect, &collector) ==
             -ECANCELED);
  BOOST_TEST(collector.files.size() == 1u);
}

BOOST_AUTO_TEST_CASE(unlistable_directory_is_an_error)
{
  TemporaryDirectory tmp;
  write_file(tmp.path() / "file", "x");
  Collector collector;
  BOOST_TEST(dcp_state_load_all((tmp.path() / "file").c_str(), &Collector::collect,
                                &collector) == -ENOTDIR);
  BOOST_TEST(dcp_state_save((tmp.path() / "file").c_str(),
                            dcp::test::make_minimal_record().get()) == -ENOTDIR);
}

BOOST_AUTO_TEST_CASE(invalid_arguments_are_refused)
{
  TemporaryDirectory tmp;
  auto record = dcp::test::make_minimal_record();
  Collector collector;
  BOOST_TEST(dcp_state_save(nullptr, record.get()) == -EINVAL);
  BOOST_TEST(dcp_state_save("", record.get()) == -EINVAL);
  BOOST_TEST(dcp_state_save(tmp.path().c_str(), nullptr) == -EINVAL);
  BOOST_TEST(dcp_state_load_all(nullptr, &Collector::collect, &collector) == -EINVAL);
  BOOST_TEST(dcp_state_load_all(tmp.path().c_str(), nullptr, nullptr) == -EINVAL);

  // A record that would not load back is not written at all.
  RecordPtr without_credentials(dcp_record_new(dcp::test::kCheckpointId, dcp::test::kUniqueName));
  BOOST_TEST(dcp_state_save(tmp.path().c_str(), without_credentials.get()) == -EINVAL);
  BOOST_TEST(fs::is_empty(tmp.path()));
}
