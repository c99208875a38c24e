#include "cli/manifest.hpp"

#include <algorithm>
#include <cerrno>

#include "cli/files.hpp"
#include "cli/format.hpp"
#include "cli/json.hpp"
#include "cli/json_reader.hpp"
#include "record/checkpoint_id.hpp"
#include "record/validate.hpp"

namespace dbus_checkpoint::cli {
namespace {

namespace fs = std::filesystem;
using bus_client::Error;
using bus_client::Result;

std::string connection_json(const ManifestConnection &connection)
{
  return JsonObject()
      .add("id", connection.id)
      .add("unique_name", connection.unique_name)
      .add_json("names", json_string_array(connection.names))
      .add("pid", connection.pid)
      .add("frozen_before", connection.frozen_before)
      .add("bus", connection.bus)
      .str();
}

std::string pids_json(const std::vector<pid_t> &pids)
{
  std::vector<std::string> elements;
  for (pid_t pid : pids)
    elements.push_back(std::to_string(pid));
  return json_array(elements);
}

// Reads members of a JSON object, remembering the first one missing or of
// the wrong kind.
class MemberReader {
 public:
  MemberReader(const JsonValue &object, std::string where)
      : object_(object), where_(std::move(where))
  {
    if (!object.object())
      problem_ = where_ + " is not a JSON object";
  }

  const JsonValue *get(std::string_view key)
  {
    const JsonValue *value = object_.member(key);
    if (!value && problem_.empty())
      problem_ = where_ + " has no \"" + std::string(key) + "\"";
    return value;
  }

  template <typename Number>
  void integer(std::string_view key, Number &out)
  {
    read(key, out, [](const JsonValue &value) { return value.integer(); }, "an integer");
  }

  void number(std::string_view key, double &out)
  {
    read(key, out, [](const JsonValue &value) { return value.number(); }, "a number");
  }

  void boolean(std::string_view key, bool &out)
  {
    read(key, out, [](const JsonValue &value) { return value.boolean(); }, "true or false");
  }

  void string(std::string_view key, std::string &out)
  {
    read(key, out, [](const JsonValue &value) {
      return value.string() ? std::optional(*value.string()) : std::nullopt;
    }, "a string");
  }

  void strings(std::string_view key, std::vector<std::string> &out)
  {
    for (const JsonValue *element : elements(key)) {
      if (element->string())
        out.push_back(*element->string());
      else
        wrong_kind(element, key, "an array of strings");
    }
  }

  template <typename Number>
  void integers(std::string_view key, std::vector<Number> &out)
  {
    for (const JsonValue *element : elements(key)) {
      if (auto number = element->integer())
        out.push_back(static_cast<Number>(*number));
      else
        wrong_kind(element, key, "an array of integers");
    }
  }

  std::vector<const JsonValue *> elements(std::string_view key)
  {
    std::vector<const JsonValue *> out;
    const JsonValue *value = get(key);
    if (value && value->array()) {
      for (const JsonValue &element : *value->array())
        out.push_back(&element);
    } else {
      wrong_kind(value, key, "an array");
    }
    return out;
  }

  // Stores member `key` in `out` if `as_kind` (JsonValue → optional) finds
  // it of the right kind.
  template <typename Out, typename AsKind>
  void read(std::string_view key, Out &out, AsKind as_kind, const char *expected)
  {
    const JsonValue *value = get(key);
    auto converted = value ? as_kind(*value) : std::nullopt;
    if (converted)
      out = static_cast<Out>(*converted);
    else
      wrong_kind(value, key, expected);
  }

  void take_problem_of(MemberReader &other)
  {
    if (problem_.empty())
      problem_ = other.problem_;
  }
  const std::string &problem() const { return problem_; }

 private:
  void wrong_kind(const JsonValue *value, std::string_view key, const char *expected)
  {
    if (value && problem_.empty())
      problem_ = where_ + "'s \"" + std::string(key) + "\" is not " + expected;
  }

  const JsonValue &object_;
  std::string where_;
  std::string problem_;
};

ManifestConnection read_connection(const JsonValue &value, MemberReader &parent)
{
  ManifestConnection connection;
  MemberReader reader(value, "a connection");
  reader.string("id", connection.id);
  reader.string("unique_name", connection.unique_name);
  reader.strings("names", connection.names);
  reader.integer("pid", connection.pid);
  reader.boolean("frozen_before", connection.frozen_before);
  if (value.object() && value.member("bus"))  // older files: the command's bus
    reader.string("bus", connection.bus);
  parent.take_problem_of(reader);
  return connection;
}

std::optional<RestoreMark> read_restore_mark(const JsonValue *value, MemberReader &parent)
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
  return {};
}

} // namespace

void add_manifest_members(JsonObject &json, const CheckpointManifest &manifest)
{
  std::vector<std::string> connections;
  for (const ManifestConnection &connection : manifest.connections)
    connections.push_back(connection_json(connection));
  json.add("pid", manifest.pid)
      .add("process_name", manifest.command)
      .add_json("processes", pids_json(manifest.processes))
      .add("bus", manifest.bus)
      .add_json("connections", json_array(connections))
      .add("created_usec", manifest.created_usec)
      .add("created", format_rfc3339(manifest.created_usec))
      .add("freeze_ms", manifest.freeze_ms)
      .add("dump_ms", manifest.dump_ms)
      .add("total_ms", manifest.total_ms)
      .add("image_bytes", manifest.image_bytes)
      .add("criu", manifest.criu)
      .add_json("criu_options", json_string_array(manifest.criu_options))
      .add("shell_job", manifest.shell_job);
}

std::string manifest_json(const CheckpointManifest &manifest)
{
  JsonObject json;
  json.add("format", kManifestFormat);
  add_manifest_members(json, manifest);
  json.add_json("restored", manifest.restored ? JsonObject()
                                                    .add("at_usec", manifest.restored->at_usec)
                                                    .add("at", format_rfc3339(
                                                                   manifest.restored->at_usec))
                                                    .add("restore_ms", manifest.restored->restore_ms)
                                                    .str()
                                              : "null");
  return json.str() + "\n";
}

Result<CheckpointManifest> parse_manifest(std::string_view text)
{
  auto parsed = parse_json(text);
  if (!parsed)
    return Error{"", "not JSON: " + parsed.error().message};
  const JsonValue &root = parsed.value();
  MemberReader reader(root, "the file");
  int format = 0;
  reader.integer("format", format);
  if (reader.problem().empty() && format != kManifestFormat)
    return Error{"", "format " + std::to_string(format) + " is not the one this program reads (" +
                         std::to_string(kManifestFormat) + ")"};
  CheckpointManifest manifest;
  reader.integer("pid", manifest.pid);
  reader.string("process_name", manifest.command);
  reader.integers("processes", manifest.processes);
  reader.string("bus", manifest.bus);
  for (const JsonValue *connection : reader.elements("connections"))
    manifest.connections.push_back(read_connection(*connection, reader));
  reader.integer("created_usec", manifest.created_usec);
  reader.number("freeze_ms", manifest.freeze_ms);
  reader.number("dump_ms", manifest.dump_ms);
  reader.number("total_ms", manifest.total_ms);
  reader.integer("image_bytes", manifest.image_bytes);
  reader.string("criu", manifest.criu);
  if (root.member("criu_options"))  // older files: none
    reader.strings("criu_options", manifest.criu_options);
  if (root.member("shell_job"))  // absent from checkpoints of 0.1.0
    reader.boolean("shell_job", manifest.shell_job);
  manifest.restored = read_restore_mark(root.member("restored"), reader);
  if (!reader.problem().empty())
    return Error{"", reader.problem()};
  if (manifest.pid <= 1 || manifest.processes.empty() || manifest.processes.front() != manifest.pid)
    return Error{"", "its pid and processes do not agree"};
  if (auto problem = check_manifest_values(manifest); !problem.empty())
    return Error{"", problem};
  return manifest;
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
