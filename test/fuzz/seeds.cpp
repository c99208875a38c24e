// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-fuzz-seeds OUTDIR: writes the seed corpus of each fuzz target into
// OUTDIR/<target>/, made by our own writers (records built through the C
// ABI as the daemon builds them, a manifest and a stop record as the CLI
// writes them), so the fuzzers start from inputs that pass every check.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/manifest.hpp"
#include "cli/stop_record.hpp"
#include "dbus-checkpoint/bus-abi.h"
#include "raw-bus/raw_bus.hpp"

namespace fs = std::filesystem;
using namespace dbus_checkpoint;

namespace {

constexpr char kId[] = "0123456789abcdef0123456789abcdef";

struct RecordFree {
  void operator()(DcpRecord *record) const { dcp_record_free(record); }
};
using Record = std::unique_ptr<DcpRecord, RecordFree>;

[[noreturn]] void fail(const std::string &what)
{
  std::fprintf(stderr, "dcp-fuzz-seeds: %s\n", what.c_str());
  std::exit(1);
}

void check(int r, const char *what)
{
  if (r != 0)
    fail(std::string(what) + " failed: " + std::to_string(r));
}

std::string serialized(const DcpRecord *record)
{
  void *bytes = nullptr;
  std::size_t n = 0;
  check(dcp_record_serialize(record, &bytes, &n), "dcp_record_serialize");
  std::string out(static_cast<const char *>(bytes), n);
  std::free(bytes);
  return out;
}

std::string message_bytes(std::uint32_t serial)
{
  raw_bus::Message call = raw_bus::new_bus_call("org.freedesktop.DBus", "GetId");
  std::string wire;
  if (!call || !raw_bus::marshal(call.get(), serial, wire).ok())
    fail("cannot marshal a message");
  return wire;
}

std::vector<std::string> records()
{
  Record minimal(dcp_record_new(kId, ":1.42"));
  if (!minimal)
    fail("dcp_record_new");
  check(dcp_record_set_credentials(minimal.get(), 1000, nullptr, 0, 4242, nullptr), "credentials");

  Record full(dcp_record_new(kId, ":1.7"));
  if (!full)
    fail("dcp_record_new");
  const std::uint32_t gids[] = {1000, 27, 100};
  check(dcp_record_set_credentials(full.get(), 1000, gids, 3, 4242, "unconfined"), "credentials");
  check(dcp_record_add_name(full.get(), "org.example.Counter", 4, 0), "add_name");
  check(dcp_record_add_name(full.get(), "org.example.Queued", 0, 2), "add_name");
  check(dcp_record_add_match_rule(full.get(), "type='signal',interface='org.example.Counter'"),
        "add_match_rule");
  check(dcp_record_add_pending_reply(full.get(), DCP_REPLY_OWED_BY_CONNECTION, ":1.9", 12, 25000),
        "add_pending_reply");
  check(dcp_record_add_pending_reply(full.get(), DCP_REPLY_OWED_TO_CONNECTION, ":1.10", 3, -1),
        "add_pending_reply");
  check(dcp_record_set_next_bus_serial(full.get(), 99), "next_bus_serial");
  check(dcp_record_set_unix_fd_passing(full.get(), 1), "unix_fd_passing");
  const std::string message = message_bytes(5);
  check(dcp_record_add_queued_message(full.get(), message.data(), message.size(), 0), "queued");
  check(dcp_record_set_dropped_signals(full.get(), 3), "dropped");
  check(dcp_record_set_unread_by_client(full.get(), message.data(), message.size()), "unread");
  check(dcp_record_set_frozen_since_usec(full.get(), 1764600000000000), "frozen_since");
  check(dcp_record_set_reattach_secret(full.get(), "fedcba9876543210fedcba9876543210"), "secret");
  return {serialized(minimal.get()), serialized(full.get()), message};
}

std::string manifest()
{
  cli::CheckpointManifest m;
  m.pid = 4242;
  m.command = "sample-sdbus";
  m.processes = {4242, 4243};
  m.bus = "unix:path=/run/dbus/system_bus_socket";
  m.connections.push_back({kId, ":1.7", {"org.example.Counter"}, 4242, false, ""});
  m.connections.push_back({"fedcba9876543210fedcba9876543210", ":1.8", {}, 4243, true,
                           "unix:path=/run/user/0/bus"});
  m.created_usec = 1764600000000000;
  m.freeze_ms = 1.5;
  m.dump_ms = 60.25;
  m.total_ms = 70;
  m.image_bytes = 400000;
  m.criu = "/usr/lib/dbus-checkpoint/criu";
  m.criu_options = {"--file-locks", "--shell-job"};
  m.restored = cli::RestoreMark{1764600001000000, 44.5};
  return cli::manifest_json(m);
}

std::string stop_record()
{
  cli::StoppedTree stopped;
  stopped.method = cli::StopMethod::Signals;
  stopped.owner = 4242;
  stopped.processes = {{4242, 1234567}, {4243, 1234570}};
  return cli::format_stop_record(kId, stopped);
}

void write_seeds(const fs::path &dir, const std::vector<std::string> &seeds)
{
  fs::create_directories(dir);
  for (std::size_t i = 0; i < seeds.size(); i++)
    std::ofstream(dir / ("seed-" + std::to_string(i)), std::ios::binary) << seeds[i];
}

} // namespace

int main(int argc, char **argv)
{
  if (argc != 2)
    fail("usage: dcp-fuzz-seeds OUTDIR");
  const fs::path out = argv[1];
  const std::vector<std::string> record_seeds = records();
  for (const char *target : {"fuzz_record_decode", "fuzz_record_abi", "fuzz_state_dir", "fuzz_plugin_record",
                             "fuzz_import"})
    write_seeds(out / target, record_seeds);
  write_seeds(out / "fuzz_manifest", {manifest(), "{}"});
  write_seeds(out / "fuzz_stop_record", {stop_record()});
  std::printf("dcp-fuzz-seeds: seeds written to %s\n", out.c_str());
  return 0;
}
