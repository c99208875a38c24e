// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/manifest.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <regex>
#include <utility>

#include "cli/files.hpp"
#include "cli/format.hpp"
#include "cli/json.hpp"
#include "cli/systemd_unit.hpp"
#include "record/checkpoint_id.hpp"
#include "record/validate.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using base::Error;
using base::Result;

Json connection_json(const ManifestConnection &connection)
{
  return {{"id", connection.id},
          {"unique_name", connection.unique_name},
          {"names", connection.names},
          {"pid", connection.pid},
          {"frozen_before", connection.frozen_before},
          {"bus", connection.bus}};
}

// Reads members of a JSON object, remembering the first one missing or of
// the wrong kind.
class MemberReader {
 public:
  MemberReader(const Json &object, std::string where) : object_(object), where_(std::move(where))
  {
    if (!object.is_object())
      problem_ = where_ + " is not a JSON object";
  }

  bool has(std::string_view key) const { return object_.is_object() && object_.contains(key); }

  const Json *get(std::string_view key)
  {
    const Json *value = nullptr;
    if (object_.is_object())
      if (auto found = object_.find(key); found != object_.end())
        value = &*found;
    if (!value && problem_.empty())
      problem_ = where_ + " has no \"" + std::string(key) + "\"";
    return value;
  }

  template <typename Number>
  void integer(std::string_view key, Number &out)
  {
    if (const Json *value = get(key); value && !json_integer(*value, out))
      wrong_kind(key, "an integer in range");
  }

  void number(std::string_view key, double &out)
  {
    if (const Json *value = get(key); value && value->is_number())
      out = value->get<double>();
    else if (value)
      wrong_kind(key, "a number");
  }

  void boolean(std::string_view key, bool &out)
  {
    if (const Json *value = get(key); value && value->is_boolean())
      out = value->get<bool>();
    else if (value)
      wrong_kind(key, "true or false");
  }

  void string(std::string_view key, std::string &out)
  {
    if (const Json *value = get(key); value && value->is_string())
      out = value->get<std::string>();
    else if (value)
      wrong_kind(key, "a string");
  }

  void strings(std::string_view key, std::vector<std::string> &out)
  {
    for (const Json *element : elements(key)) {
      if (element->is_string())
        out.push_back(element->get<std::string>());
      else
        wrong_kind(key, "an array of strings");
    }
  }

  template <typename Number>
  void integers(std::string_view key, std::vector<Number> &out)
  {
    for (const Json *element : elements(key)) {
      Number number{};
      if (json_integer(*element, number))
        out.push_back(number);
      else
        wrong_kind(key, "an array of integers in range");
    }
  }

  std::vector<const Json *> elements(std::string_view key)
  {
    std::vector<const Json *> out;
    const Json *value = get(key);
    if (value && value->is_array()) {
      for (const Json &element : *value)
        out.push_back(&element);
    } else if (value) {
      wrong_kind(key, "an array");
    }
    return out;
  }

  void take_problem_of(MemberReader &other)
  {
    if (problem_.empty())
      problem_ = other.problem_;
  }
  const std::string &problem() const { return problem_; }

 private:
  void wrong_kind(std::string_view key, const char *expected)
  {
    if (problem_.empty())
      problem_ = where_ + "'s \"" + std::string(key) + "\" is not " + expected;
  }

  const Json &object_;
  std::string where_;
  std::string problem_;
};

ManifestConnection read_connection(const Json &value, MemberReader &parent)
{
  ManifestConnection connection;
  MemberReader reader(value, "a connection");
  reader.string("id", connection.id);
  reader.string("unique_name", connection.unique_name);
  reader.strings("names", connection.names);
  reader.integer("pid", connection.pid);
  reader.boolean("frozen_before", connection.frozen_before);
  if (reader.has("bus"))  // older files: the command's bus
    reader.string("bus", connection.bus);
  parent.take_problem_of(reader);
  return connection;
}

std::optional<RestoreMark> read_restore_mark(const Json *value, MemberReader &parent)
{
  if (!value || value->is_null())
    return std::nullopt;
  RestoreMark mark;
  MemberReader reader(*value, "\"restored\"");
  reader.integer("at_usec", mark.at_usec);
  reader.number("restore_ms", mark.restore_ms);
  parent.take_problem_of(reader);
  return mark;
}

// What restore hands to the bus and to criu comes from this file: ids,
// names and pids must be what checkpoint wrote, never paths or options.
std::string check_manifest_values(const CheckpointManifest &manifest)
{
  for (pid_t pid : manifest.processes)
    if (pid <= 1)
      return "process " + std::to_string(pid) + " is no pid criu may restore";
  for (const ManifestConnection &connection : manifest.connections) {
    if (!record::is_valid_checkpoint_id(connection.id))
      return "\"" + connection.id + "\" is not a checkpoint id";
    if (!record::is_valid_unique_name(connection.unique_name))
      return "\"" + connection.unique_name + "\" is not a unique bus name";
    for (const std::string &name : connection.names)
      if (!record::is_valid_well_known_name(name))
        return "\"" + name + "\" is not a well-known bus name";
    if (std::find(manifest.processes.begin(), manifest.processes.end(), connection.pid) ==
        manifest.processes.end())
      return "connection " + connection.unique_name + " has a pid not in the checkpoint";
  }
  for (const std::string &option : manifest.criu_options)
    if (option != kCriuFileLocks && option != kCriuShellJob)
      return "\"" + option + "\" is not a CRIU option checkpoint records";
  if (const auto &sandbox = manifest.sandbox) {
    if (!manifest.systemd_unit)
      return "a \"sandbox\" without a \"systemd_unit\"";
    static const std::regex namespace_kind("net|uts|ipc|mnt");
    static const std::regex file_id(R"(file\[[0-9a-f]{1,8}:[0-9a-f]{1,16}\])");
    for (const std::string &kind : sandbox->namespaces)
      if (!std::regex_match(kind, namespace_kind))
        return "\"" + kind + "\" is not a namespace checkpoint enters";
    for (const std::string &id : sandbox->outside_files)
      if (!std::regex_match(id, file_id))
        return "\"" + id + "\" is not a CRIU file id (file[MNT_ID:INODE])";
  }
  if (const auto &server = manifest.page_server) {
    static const std::regex address("[0-9A-Za-z][0-9A-Za-z.:-]{0,252}");
    if (!std::regex_match(server->address, address) || server->port == 0)
      return "\"page_server\" is no address and port criu can connect to";
  }
  return {};
}

} // namespace

void add_manifest_members(Json &json, const CheckpointManifest &manifest)
{
  Json connections = Json::array();
  for (const ManifestConnection &connection : manifest.connections)
    connections.push_back(connection_json(connection));
  json["pid"] = manifest.pid;
  json["process_name"] = manifest.command;
  json["processes"] = manifest.processes;
  json["bus"] = manifest.bus;
  json["connections"] = std::move(connections);
  json["created_usec"] = manifest.created_usec;
  json["created"] = format_rfc3339(manifest.created_usec);
  json["freeze_ms"] = json_milliseconds(manifest.freeze_ms);
  json["dump_ms"] = json_milliseconds(manifest.dump_ms);
  json["total_ms"] = json_milliseconds(manifest.total_ms);
  json["image_bytes"] = manifest.image_bytes;
  json["criu"] = manifest.criu;
  json["criu_options"] = manifest.criu_options;
  json["systemd_unit"] = nullptr;
  if (const auto &unit = manifest.systemd_unit)
    json["systemd_unit"] = {{"name", unit->name}, {"drop_in", unit->drop_in}};
  if (const auto &sandbox = manifest.sandbox)
    json["sandbox"] = {{"namespaces", sandbox->namespaces},
                       {"outside_files", sandbox->outside_files}};
  if (const auto &server = manifest.page_server)
    json["page_server"] = {{"address", server->address}, {"port", server->port}};
}

std::string manifest_json(const CheckpointManifest &manifest)
{
  Json json = {{"format", kManifestFormat}};
  add_manifest_members(json, manifest);
  json["restored"] = nullptr;
  if (const auto &mark = manifest.restored)
    json["restored"] = {{"at_usec", mark->at_usec},
                        {"at", format_rfc3339(mark->at_usec)},
                        {"restore_ms", json_milliseconds(mark->restore_ms)}};
  return json_text(json) + "\n";
}

Result<CheckpointManifest> parse_manifest(std::string_view text)
{
  auto parsed = parse_json(text);
  if (!parsed)
    return Error{"", "not JSON: " + parsed.error().message};
  const Json &root = parsed.value();
  MemberReader reader(root, "the file");
  int format = 0;
  reader.integer("format", format);
  if (reader.problem().empty() && (format < 1 || format > kManifestFormat))
    return Error{"", "format " + std::to_string(format) + " is not one this program reads (1 to " +
                         std::to_string(kManifestFormat) + ")"};
  CheckpointManifest manifest;
  reader.integer("pid", manifest.pid);
  reader.string("process_name", manifest.command);
  reader.integers("processes", manifest.processes);
  reader.string("bus", manifest.bus);
  for (const Json *connection : reader.elements("connections"))
    manifest.connections.push_back(read_connection(*connection, reader));
  reader.integer("created_usec", manifest.created_usec);
  reader.number("freeze_ms", manifest.freeze_ms);
  reader.number("dump_ms", manifest.dump_ms);
  reader.number("total_ms", manifest.total_ms);
  reader.integer("image_bytes", manifest.image_bytes);
  reader.string("criu", manifest.criu);
  if (reader.has("criu_options"))  // older files: none
    reader.strings("criu_options", manifest.criu_options);
  bool shell_job = false;  // format 1's, absent from checkpoints of 0.1.0
  if (format == 1 && reader.has("shell_job"))
    reader.boolean("shell_job", shell_job);
  if (shell_job && !manifest.restores_in_new_session())
    manifest.criu_options.push_back(kCriuShellJob);
  if (reader.has("systemd_unit") && !root.at("systemd_unit").is_null()) {
    MemberReader unit_reader(root.at("systemd_unit"), "\"systemd_unit\"");
    ManifestUnit unit;
    unit_reader.string("name", unit.name);
    unit_reader.string("drop_in", unit.drop_in);
    if (!unit_reader.problem().empty())
      return Error{"", unit_reader.problem()};
    // only a drop-in that checkpoint would have written: restore removes it
    const std::string directory = unit.name + ".d/" + kDropInName;
    if (!is_service_unit_name(unit.name) ||
        (unit.drop_in != "/run/systemd/system/" + directory &&
         unit.drop_in != "/etc/systemd/system/" + directory))
      return Error{"", "\"systemd_unit\" names no service unit's dbus-checkpoint drop-in"};
    manifest.systemd_unit = std::move(unit);
  }
  if (reader.has("sandbox")) {
    MemberReader sandbox_reader(root.at("sandbox"), "\"sandbox\"");
    ManifestSandbox sandbox;
    sandbox_reader.strings("namespaces", sandbox.namespaces);
    sandbox_reader.strings("outside_files", sandbox.outside_files);
    if (!sandbox_reader.problem().empty())
      return Error{"", sandbox_reader.problem()};
    manifest.sandbox = std::move(sandbox);
  }
  if (reader.has("page_server")) {
    MemberReader server_reader(root.at("page_server"), "\"page_server\"");
    ManifestPageServer server;
    server_reader.string("address", server.address);
    server_reader.integer("port", server.port);
    if (!server_reader.problem().empty())
      return Error{"", server_reader.problem()};
    manifest.page_server = std::move(server);
  }
  manifest.restored =
      read_restore_mark(reader.has("restored") ? &root.at("restored") : nullptr, reader);
  if (!reader.problem().empty())
    return Error{"", reader.problem()};
  if (manifest.pid <= 1 || manifest.processes.empty() || manifest.processes.front() != manifest.pid)
    return Error{"", "its pid and processes do not agree"};
  if (auto problem = check_manifest_values(manifest); !problem.empty())
    return Error{"", problem};
  return manifest;
}

bool CheckpointManifest::restores_in_new_session() const
{
  return std::find(criu_options.begin(), criu_options.end(), kCriuShellJob) != criu_options.end();
}

fs::path manifest_path(const fs::path &images_dir)
{
  return images_dir / kManifestFileName;
}

Result<void> save_manifest(const fs::path &images_dir, const CheckpointManifest &manifest)
{
  return replace_file(manifest_path(images_dir), manifest_json(manifest), 0600);
}

Result<CheckpointManifest> load_manifest(const fs::path &images_dir)
{
  const fs::path path = manifest_path(images_dir);
  auto text = read_whole_file(path);
  if (!text && !fs::exists(path))
    return Error{"", path.string() + " does not exist: " + images_dir.string() +
                         " is not a directory that dbus-checkpoint checkpoint wrote"};
  if (!text)
    return text.error();
  auto manifest = parse_manifest(text.value());
  if (!manifest)
    return Error{"", path.string() + ": " + manifest.error().message};
  return manifest;
}

} // namespace dbus_checkpoint::cli
