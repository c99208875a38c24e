// SPDX-License-Identifier: GPL-2.0-or-later
// A graphical session checkpointed and restored with dbus-checkpoint:
// headless weston, dcp-wayland-counter (ours: its window shows a counter it
// serves on the session bus; it also holds a system-bus connection) and
// weston-terminal (third party) as one process tree, on our daemon as both
// the session and the system bus, real CRIU and our plugin.  Screenshots
// prove what is on screen: the counter's digits are checked segment by
// segment where its window is, and compared pixel for pixel across the
// restore.  Root only (CRIU).
#define BOOST_TEST_MODULE test_wayland_session
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/process_tree.hpp"
#include "cli_support.hpp"
#include "criu_support.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "screenshot.hpp"
#include "session_bus.hpp"

namespace fs = std::filesystem;
using namespace dcp::test;
using namespace dcp::test::wayland;

using criu::BecomeSubreaper;
BOOST_TEST_GLOBAL_FIXTURE(BecomeSubreaper);

namespace {

constexpr const char *kCounterName = "org.dbuscheckpoint.WaylandCounter";
constexpr const char *kCounterPath = "/org/dbuscheckpoint/WaylandCounter";
constexpr const char *kCounterInterface = "org.dbuscheckpoint.WaylandCounter1";

std::string busctl_counter(const std::string &address, const std::string &destination,
                           const std::string &member)
{
  CommandResult r = run_command({DCP_BUSCTL, "--address=" + address, "call", destination,
                                 kCounterPath, kCounterInterface, member});
  BOOST_REQUIRE_MESSAGE(r.ok(), "busctl " << member << ": " << r.describe());
  return first_line(r.out);  // "u 4"
}

// weston's backend (session.sh's BACKEND): headless, no input devices; or
// x11, in an Xvfb of the session, whose keyboard xdotool types on.
enum class Backend { Headless, X11 };

// weston.ini's [shell] background-color.
constexpr std::uint32_t kDesktopColor = 0x1f3a5f;

// Everything of one session: the buses, the tree, a place for screenshots.
class GraphicalSession {
 public:
  explicit GraphicalSession(Backend backend = Backend::Headless)
  {
    char tmpl[] = "/tmp/dcp-wayland-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl));
    dir_ = tmpl;
    runtime_dir_ = dir_ / "runtime";
    fs::create_directory(runtime_dir_);
    fs::permissions(runtime_dir_, fs::perms::owner_all);
    setenv("XDG_RUNTIME_DIR", runtime_dir_.c_str(), 1);
    setenv("WAYLAND_DISPLAY", "dcp-wayland-test", 1);
    std::vector<std::string> command = {"/bin/sh", DCP_WAYLAND_SESSION_SH, DCP_WAYLAND_COUNTER,
                                        ready_file().string(), DCP_WAYLAND_SCREENSHOT_CHECK};
    if (backend == Backend::X11) {
      // weston and Xvfb share MIT-SHM (SysV) segments: in an IPC namespace
      // of the session's own, which CRIU dumps and restores with the tree.
      command.insert(command.begin(), {DCP_UNSHARE, "--ipc"});
      command.push_back("x11");
    }
    session_ = ChildProcess(command, (dir_ / "session.log").string(), /*new_session=*/true);
    root_ = session_.pid();
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return fs::exists(ready_file()); },
                                     std::chrono::seconds(30)),
                          "the session did not come up; session.log:\n"
                              << read_file(dir_ / "session.log") << "weston.log:\n"
                              << criu::tail_of(runtime_dir_ / "weston.log"));
    std::istringstream names(read_file(ready_file()));
    names >> session_name_ >> system_name_;
    BOOST_TEST_MESSAGE("session tree " << root_ << " up: counter " << session_name_
                                       << " on the session bus, " << system_name_
                                       << " on the system bus");
  }
  ~GraphicalSession()
  {
    kill_tree(root_);
    unsetenv("WAYLAND_DISPLAY");
    unsetenv("XDG_RUNTIME_DIR");
    std::error_code ignored;
    if (!getenv("DCP_TEST_KEEP_WAYLAND_DIR"))
      fs::remove_all(dir_, ignored);
  }

  const fs::path &dir() const { return dir_; }
  pid_t root() const { return root_; }
  const std::string &system_name() const { return system_name_; }
  fs::path ready_file() const { return dir_ / "counter-ready"; }
  const PrivateSystemBus &system_bus() const { return system_bus_; }
  PrivateSessionBus &session_bus() { return session_bus_; }

  // A screenshot by weston-screenshooter (outside the tree), as `name`.
  Image screenshot(const std::string &name)
  {
    const fs::path shot_dir = dir_ / ("shot-" + name);
    fs::create_directory(shot_dir);
    CommandResult r = run_command(
        {"/bin/sh", "-c", "cd \"$1\" && exec \"$2\"", "sh", shot_dir.string(),
         DCP_WESTON_SCREENSHOOTER});
    BOOST_REQUIRE_MESSAGE(r.ok(), "weston-screenshooter: " << r.describe());
    fs::path png;
    for (const auto &entry : fs::directory_iterator(shot_dir))
      png = entry.path();
    BOOST_REQUIRE_MESSAGE(!png.empty(), "weston-screenshooter wrote no file");
    const fs::path kept = dir_ / (name + ".png");
    fs::rename(png, kept);
    return load_png(kept.string());
  }

  // The lines weston-terminal's shell read (terminal-shell.sh).
  std::vector<std::string> typed_lines() const
  {
    std::vector<std::string> lines;
    std::istringstream text(read_file(runtime_dir_ / "typed-lines"));
    for (std::string line; std::getline(text, line);)
      lines.push_back(line);
    return lines;
  }

  // Backend::X11: clicks on weston-terminal (found on a screenshot), types
  // `line` + Return on Xvfb's keyboard and waits until its shell read it;
  // then clicks on the counter, which the click had put under the
  // terminal, to raise it again.
  void type_into_terminal(const std::string &line)
  {
    const std::string display = first_line(read_file(runtime_dir_ / "x-display"));
    const Image screen = screenshot("typing");
    const auto counter = find_counter_window(screen);
    BOOST_REQUIRE_MESSAGE(counter, "no counter window on screen");
    const auto point = find_terminal_point(screen, *counter, kDesktopColor);
    BOOST_REQUIRE_MESSAGE(point, "no weston-terminal on screen");
    const auto xdotool = [&](std::vector<std::string> arguments) {
      arguments.insert(arguments.begin(), DCP_XDOTOOL);
      CommandResult r = run_command(arguments, std::chrono::seconds(30), {{"DISPLAY", display}});
      BOOST_REQUIRE_MESSAGE(r.ok(), "xdotool: " << r.describe());
    };
    const std::size_t before = typed_lines().size();
    // The pointer comes into weston's window from outside it (session.sh:
    // Xvfb's screen is larger), so that weston gets an EnterNotify and takes
    // the pointer; the click gives the terminal the keyboard.
    xdotool({"mousemove", "1340", "860"});
    usleep(100'000);
    xdotool({"mousemove", std::to_string(point->x), std::to_string(point->y)});
    usleep(100'000);
    xdotool({"click", "1"});
    xdotool({"type", "--delay", "10", line});
    xdotool({"key", "Return"});
    const bool read = wait_until([&] { return typed_lines().size() > before; }, std::chrono::seconds(10));
    if (!read)
      screenshot("typing-failed");
    BOOST_REQUIRE_MESSAGE(read, "weston-terminal's shell did not read \"" << line << "\" (clicked at "
                                    << point->x << "," << point->y << " on " << display
                                    << "; the screen then: typing-failed.png)");
    BOOST_TEST(typed_lines().back() == line);
    xdotool({"mousemove", std::to_string(counter->x + dcp::wayland_counter::kWidth / 2),
             std::to_string(counter->y + dcp::wayland_counter::kHeight / 2), "click", "1"});
  }

  // Screenshots until the screen shows `value` and stays the same (the
  // terminal drawing its first lines): the settled one.
  Image settled_screenshot(const std::string &name, std::uint32_t value)
  {
    Image previous = screenshot(name);
    for (int attempt = 0; attempt < 40; attempt++) {
      std::string summary;
      Image next = screenshot(name);
      if (verify_counter_screenshot(next, value, summary).empty() &&
          differing_pixels(previous, next) == 0)
        return next;
      previous = std::move(next);
      usleep(100'000);
    }
    return previous;
  }

 private:
  PrivateSystemBus system_bus_;
  PrivateSessionBus session_bus_;
  fs::path dir_;
  fs::path runtime_dir_;
  ChildProcess session_;
  pid_t root_ = -1;
  std::string session_name_;
  std::string system_name_;
};

void require_shows(const Image &image, std::uint32_t value, const std::string &what)
{
  std::string summary;
  const std::string wrong = verify_counter_screenshot(image, value, summary);
  BOOST_REQUIRE_MESSAGE(wrong.empty(), what << ": " << wrong);
  BOOST_TEST_MESSAGE(what << ": " << summary);
}

std::string manifest_value(const fs::path &images, const std::string &expression)
{
  return json_query(read_file(images / "dbus-checkpoint.json"), expression);
}

// checkpoint --pid ROOT: both buses' connections frozen, the tree dumped.
void checkpoint_session(GraphicalSession &session, const fs::path &images)
{
  auto tree = dbus_checkpoint::cli::process_tree(session.root());
  BOOST_REQUIRE(tree);
  CommandResult dumped = run_cli({"checkpoint", "--pid", std::to_string(session.root()), "-D",
                                  images.string()},
                                 {}, std::chrono::seconds(120));
  BOOST_REQUIRE_MESSAGE(dumped.ok(), "checkpoint: " << dumped.describe());
  BOOST_TEST_MESSAGE("checkpoint:\n" << dumped.err);
  BOOST_TEST(dumped.err.find("--file-locks") != std::string::npos);
  // The counter on the session bus (found in its environment) and on the
  // system bus, each with its name; weston-terminal on neither.
  BOOST_TEST(manifest_value(images, "sum(1 for c in d['connections'] if c['bus'] == '" +
                                        session.session_bus().address() + "')") == "1");
  BOOST_TEST(manifest_value(images, "sum(1 for c in d['connections'] if c['bus'] == '')") == "1");
  BOOST_TEST(manifest_value(images, "d['criu_options']") == "['--file-locks']");
  BOOST_TEST_MESSAGE("dump " << manifest_value(images, "d['dump_ms']") << " ms, images "
                             << manifest_value(images, "d['image_bytes']") << " bytes, "
                             << manifest_value(images, "len(d['processes'])") << " processes");
  // criu dump killed them; we are the subreaper of those orphaned: reap.
  for (const auto &process : tree.value())
    BOOST_REQUIRE(criu::wait_until_gone(process.id.pid, std::chrono::seconds(10)));
}

void restore_session(const fs::path &images)
{
  CommandResult restored = run_cli({"restore", "-D", images.string()}, {},
                                   std::chrono::seconds(120));
  BOOST_REQUIRE_MESSAGE(restored.ok(), "restore: " << restored.describe());
  BOOST_TEST_MESSAGE("restore:\n" << restored.err);
}

pid_t terminal_shell(pid_t root)
{
  auto tree = dbus_checkpoint::cli::process_tree(root);
  BOOST_REQUIRE(tree);
  for (const auto &process : tree.value()) {
    const std::string cmdline = read_file("/proc/" + std::to_string(process.id.pid) + "/cmdline");
    if (cmdline.find("terminal-shell.sh") != std::string::npos &&
        dbus_checkpoint::cli::process_name(process.id.pid) != "weston-terminal")
      return process.id.pid;
  }
  BOOST_FAIL("no terminal-shell.sh in the session tree");
  return -1;
}

} // namespace

BOOST_AUTO_TEST_CASE(session_survives_checkpoint_and_restore)
{
  BOOST_REQUIRE_MESSAGE(geteuid() == 0, "CRIU needs root");
  GraphicalSession session;
  const std::string session_bus = session.session_bus().address();
  const std::string system_bus = session.system_bus().address();
  for (int i = 1; i <= 3; i++)
    BOOST_TEST(busctl_counter(session_bus, kCounterName, "Increment") == "u " + std::to_string(i));
  const Image before = session.settled_screenshot("before", 3);
  require_shows(before, 3, "before the checkpoint");

  const fs::path images = session.dir() / "images";
  checkpoint_session(session, images);

  // Frozen: a session-bus caller is answered at once with NameFrozen.
  CommandResult frozen = run_command({DCP_BUSCTL, "--address=" + session_bus, "call",
                                      kCounterName, kCounterPath, kCounterInterface, "Get"});
  BOOST_TEST(!frozen.ok());
  BOOST_TEST_MESSAGE("caller while frozen: " << frozen.err);
  BOOST_TEST(frozen.err.find("frozen") != std::string::npos);

  // Only the bus's own user (root here) may use Checkpoint: on a session
  // bus another user cannot even connect.
  CommandResult other_user = run_command(
      {DCP_SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", DCP_BUSCTL,
       "--address=" + session_bus, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
       "org.freedesktop.DBus.Checkpoint", "ListFrozen"});
  BOOST_TEST(!other_user.ok(), "uid 65534 on root's session bus: " << other_user.describe());

  restore_session(images);
  const Image after = session.screenshot("after");
  require_shows(after, 3, "after restore");
  BOOST_TEST(differing_pixels(before, after) == 0u, "the screen after restore is the one before");

  // Both connections carry on: Increment on the session bus redraws.
  BOOST_TEST(busctl_counter(session_bus, kCounterName, "Increment") == "u 4");
  const Image incremented = session.screenshot("incremented");
  require_shows(incremented, 4, "after Increment");
  BOOST_TEST(busctl_counter(system_bus, kCounterName, "Get") == "u 4");

  // weston-terminal still draws: its shell prints a line on SIGUSR1.
  const auto window = find_counter_window(incremented);
  BOOST_REQUIRE(window);
  BOOST_REQUIRE(::kill(terminal_shell(session.root()), SIGUSR1) == 0);
  Image terminal = session.screenshot("terminal");
  for (int i = 0; i < 50 && differing_pixels_outside(incremented, terminal, *window) == 0; i++) {
    usleep(100'000);
    terminal = session.screenshot("terminal");
  }
  BOOST_TEST(differing_pixels_outside(incremented, terminal, *window) > 0u,
             "weston-terminal drew its new line after restore");
  require_shows(terminal, 4, "with the terminal's new line");
}

BOOST_AUTO_TEST_CASE(restore_after_the_session_bus_restarted)
{
  BOOST_REQUIRE_MESSAGE(geteuid() == 0, "CRIU needs root");
  GraphicalSession session;
  const std::string session_bus = session.session_bus().address();
  BOOST_TEST(busctl_counter(session_bus, kCounterName, "Increment") == "u 1");
  const Image before = session.settled_screenshot("before", 1);
  require_shows(before, 1, "before the checkpoint");
  const fs::path images = session.dir() / "images";
  checkpoint_session(session, images);

  // The session bus dies and comes back with its <checkpoint_dir>: the
  // frozen connection is back from its record, name included.
  session.session_bus().kill_hard();
  session.session_bus().start();
  CommandResult listed = run_cli({"--address", session_bus, "list"});
  BOOST_REQUIRE_MESSAGE(listed.ok(), listed.describe());
  BOOST_TEST(listed.out.find(kCounterName) != std::string::npos);

  restore_session(images);
  const Image after = session.screenshot("after");
  require_shows(after, 1, "after restore");
  BOOST_TEST(differing_pixels(before, after) == 0u);
  BOOST_TEST(busctl_counter(session_bus, kCounterName, "Increment") == "u 2");
  require_shows(session.screenshot("incremented"), 2, "after Increment");
}

// weston's x11 backend in an Xvfb of the session gives its seat a keyboard:
// text typed with xdotool (XTEST) reaches weston-terminal and its shell
// before the checkpoint and again after the restore, so the third-party
// application takes input, not only draws.  Xvfb and weston share SysV
// shared memory: the session has an IPC namespace of its own.
BOOST_AUTO_TEST_CASE(weston_terminal_takes_typed_input_after_restore)
{
  BOOST_REQUIRE_MESSAGE(geteuid() == 0, "CRIU needs root");
  GraphicalSession session(Backend::X11);
  const std::string session_bus = session.session_bus().address();
  BOOST_TEST(busctl_counter(session_bus, kCounterName, "Increment") == "u 1");
  require_shows(session.settled_screenshot("before", 1), 1, "before the checkpoint");
  session.type_into_terminal("typed before the checkpoint");
  const Image before = session.settled_screenshot("typed", 1);

  const fs::path images = session.dir() / "images";
  checkpoint_session(session, images);
  restore_session(images);
  const Image after = session.screenshot("after");
  require_shows(after, 1, "after restore");
  BOOST_TEST(differing_pixels(before, after) == 0u, "the screen after restore is the one before");

  session.type_into_terminal("typed after the restore");
  BOOST_TEST(session.typed_lines() ==
                 (std::vector<std::string>{"typed before the checkpoint", "typed after the restore"}),
             "the shell read both lines");
  BOOST_TEST(busctl_counter(session_bus, kCounterName, "Increment") == "u 2");
  require_shows(session.screenshot("incremented"), 2, "after Increment");
}
