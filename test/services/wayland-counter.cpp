// SPDX-License-Identifier: GPL-2.0-or-later
// dcp-wayland-counter: a Wayland client (wl_shm, xdg-shell, no toolkit)
// whose window shows a counter, and a D-Bus service on the SESSION bus that
// increments it; it also holds a connection to the system bus.
//
// The tests checkpoint it with its compositor and check the screen shows
// the same value after restore, then a new one after Increment.  Like
// dcp-sample-sdbus it is deliberately plain: one thread, a poll() loop over
// the Wayland socket and the two bus sockets, no epoll/timerfd/signalfd.
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sys/mman.h>
#include <systemd/sd-bus.h>
#include <unistd.h>
#include <wayland-client.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "wayland_counter_layout.hpp"
#include "xdg-shell-client-protocol.h"

namespace {

namespace layout = dcp::wayland_counter;

constexpr const char *kDefaultName = "org.dbuscheckpoint.WaylandCounter";
constexpr const char *kObjectPath = "/org/dbuscheckpoint/WaylandCounter";
constexpr const char *kInterface = "org.dbuscheckpoint.WaylandCounter1";

constexpr const char *kHelp = R"(Usage: dcp-wayland-counter [OPTION]...
A Wayland window ($WAYLAND_DISPLAY) showing a counter as four seven-segment
digits, served on the SESSION bus ($DBUS_SESSION_BUS_ADDRESS) as NAME with
/org/dbuscheckpoint/WaylandCounter, interface
org.dbuscheckpoint.WaylandCounter1: Increment() -> u (answered once the
compositor has shown the new value), Get() -> u.  The same object is served
on the SYSTEM bus ($DBUS_SYSTEM_BUS_ADDRESS) under the same NAME (its policy
must let the user own it).

  --name NAME         name to own on both buses
                      (default org.dbuscheckpoint.WaylandCounter)
  --ready-file PATH   once the first frame is shown, write the session-bus
                      unique name, a space, the system-bus unique name and a
                      newline to PATH.tmp, then rename it to PATH
  --help              show this help and exit

Exit status: 0 when the compositor closes the window, 1 on an error, 2 on
bad options.
)";

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int check_bus(int r, const std::string &what)
{
  if (r < 0)
    throw Failure(what + ": " + std::strerror(-r));
  return r;
}

template <typename T, void (*Destroy)(T *)>
struct Deleter {
  void operator()(T *p) const
  {
    if (p)
      Destroy(p);
  }
};
template <typename T, void (*Destroy)(T *)>
using Handle = std::unique_ptr<T, Deleter<T, Destroy>>;

using Display = Handle<wl_display, wl_display_disconnect>;
using Registry = Handle<wl_registry, wl_registry_destroy>;
using Compositor = Handle<wl_compositor, wl_compositor_destroy>;
using Shm = Handle<wl_shm, wl_shm_destroy>;
using WmBase = Handle<xdg_wm_base, xdg_wm_base_destroy>;
using Surface = Handle<wl_surface, wl_surface_destroy>;
using XdgSurface = Handle<xdg_surface, xdg_surface_destroy>;
using Toplevel = Handle<xdg_toplevel, xdg_toplevel_destroy>;
using Callback = Handle<wl_callback, wl_callback_destroy>;
using WlBuffer = Handle<wl_buffer, wl_buffer_destroy>;

sd_bus *unref_bus(sd_bus *bus) { return sd_bus_flush_close_unref(bus); }
void close_bus(sd_bus *bus) { unref_bus(bus); }
void unref_message(sd_bus_message *m) { sd_bus_message_unref(m); }
void unref_slot(sd_bus_slot *s) { sd_bus_slot_unref(s); }
using Bus = Handle<sd_bus, close_bus>;
using Message = Handle<sd_bus_message, unref_message>;
using Slot = Handle<sd_bus_slot, unref_slot>;

struct Options {
  std::string name = kDefaultName;
  std::string ready_file;
};

Options parse_options(int argc, char **argv)
{
  enum { kName = 1, kReadyFile, kHelpOption };
  const struct option long_options[] = {
      {"name", required_argument, nullptr, kName},
      {"ready-file", required_argument, nullptr, kReadyFile},
      {"help", no_argument, nullptr, kHelpOption},
      {nullptr, 0, nullptr, 0},
  };
  Options options;
  opterr = 0;
  int option;
  while ((option = getopt_long(argc, argv, "", long_options, nullptr)) != -1) {
    switch (option) {
    case kName: options.name = optarg; break;
    case kReadyFile: options.ready_file = optarg; break;
    case kHelpOption: std::fputs(kHelp, stdout); std::exit(0);
    default:
      std::fprintf(stderr, "dcp-wayland-counter: unknown option or missing value: %s\n",
                   argv[optind - 1]);
      std::exit(2);
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "dcp-wayland-counter: unexpected argument: %s\n", argv[optind]);
    std::exit(2);
  }
  return options;
}

// One wl_shm buffer with its own memfd-backed mapping; freed on release.
class Buffer {
 public:
  Buffer(wl_shm *shm, std::list<Buffer> &owner_list) : owner_list_(owner_list)
  {
    const int fd = memfd_create("dcp-wayland-counter", MFD_CLOEXEC);
    if (fd < 0)
      throw Failure(std::string("memfd_create: ") + std::strerror(errno));
    if (ftruncate(fd, kBytes) < 0) {
      close(fd);
      throw Failure(std::string("ftruncate: ") + std::strerror(errno));
    }
    void *map = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      close(fd);
      throw Failure(std::string("mmap: ") + std::strerror(errno));
    }
    pixels_ = static_cast<std::uint32_t *>(map);
    wl_shm_pool *pool = wl_shm_create_pool(shm, fd, kBytes);
    buffer_.reset(wl_shm_pool_create_buffer(pool, 0, layout::kWidth, layout::kHeight,
                                            layout::kWidth * 4, WL_SHM_FORMAT_XRGB8888));
    wl_shm_pool_destroy(pool);
    close(fd);  // the compositor and our mapping keep the memory
    static const wl_buffer_listener listener = {.release = &Buffer::released};
    wl_buffer_add_listener(buffer_.get(), &listener, this);
  }
  ~Buffer() { munmap(pixels_, kBytes); }
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;

  std::uint32_t *pixels() { return pixels_; }
  wl_buffer *get() { return buffer_.get(); }

 private:
  static constexpr int kBytes = layout::kWidth * layout::kHeight * 4;
  static void released(void *data, wl_buffer *)
  {
    auto *self = static_cast<Buffer *>(data);
    self->owner_list_.remove_if([self](const Buffer &b) { return &b == self; });
  }
  std::list<Buffer> &owner_list_;
  std::uint32_t *pixels_ = nullptr;
  WlBuffer buffer_;
};

// XRGB8888 ignores the top byte, but weston's screenshots keep it as alpha.
constexpr std::uint32_t kOpaque = 0xff000000;

void fill(std::uint32_t *pixels, const layout::Rect &r, std::uint32_t color)
{
  for (int y = r.y; y < r.y + r.height; y++)
    for (int x = r.x; x < r.x + r.width; x++)
      pixels[y * layout::kWidth + x] = color;
}

void draw(std::uint32_t *pixels, std::uint32_t value)
{
  for (int y = 0; y < layout::kHeight; y++)
    for (int x = 0; x < layout::kWidth; x++) {
      const bool frame = x < layout::kBorder || y < layout::kBorder ||
                         x >= layout::kWidth - layout::kBorder ||
                         y >= layout::kHeight - layout::kBorder;
      pixels[y * layout::kWidth + x] =
          kOpaque | (frame ? layout::kFrameColor : layout::background_color(x, y));
    }
  // Unlit segments first: lit ones overlap them at the corners.
  for (int lit = 0; lit < 2; lit++)
    for (int digit = 0; digit < layout::kDigits; digit++)
      for (int segment = 0; segment < layout::kSegments; segment++)
        if (layout::segment_lit(value, digit, segment) == (lit == 1))
          fill(pixels, layout::segment_rect(digit, segment),
               kOpaque | (lit ? layout::kOnColor : layout::kOffColor));
}

class CounterApp {
 public:
  explicit CounterApp(Options options) : options_(std::move(options)) {}

  void connect()
  {
    display_.reset(wl_display_connect(nullptr));
    if (!display_)
      throw Failure("cannot connect to the Wayland display (WAYLAND_DISPLAY=" +
                    std::string(getenv("WAYLAND_DISPLAY") ? getenv("WAYLAND_DISPLAY") : "") +
                    "): " + std::strerror(errno));
    registry_.reset(wl_display_get_registry(display_.get()));
    static const wl_registry_listener registry_listener = {
        .global = &CounterApp::global, .global_remove = [](void *, wl_registry *, uint32_t) {}};
    wl_registry_add_listener(registry_.get(), &registry_listener, this);
    if (wl_display_roundtrip(display_.get()) < 0)
      throw Failure("Wayland roundtrip failed");
    if (!compositor_ || !shm_ || !wm_base_)
      throw Failure("the compositor lacks wl_compositor, wl_shm or xdg_wm_base");

    surface_.reset(wl_compositor_create_surface(compositor_.get()));
    xdg_surface_.reset(xdg_wm_base_get_xdg_surface(wm_base_.get(), surface_.get()));
    static const xdg_surface_listener surface_listener = {.configure = &CounterApp::configured};
    xdg_surface_add_listener(xdg_surface_.get(), &surface_listener, this);
    toplevel_.reset(xdg_surface_get_toplevel(xdg_surface_.get()));
    static const xdg_toplevel_listener toplevel_listener = {
        .configure = [](void *, xdg_toplevel *, int32_t, int32_t, wl_array *) {},
        .close = [](void *data, xdg_toplevel *) { static_cast<CounterApp *>(data)->closed_ = true; },
        .configure_bounds = [](void *, xdg_toplevel *, int32_t, int32_t) {},
        .wm_capabilities = [](void *, xdg_toplevel *, wl_array *) {}};
    xdg_toplevel_add_listener(toplevel_.get(), &toplevel_listener, this);
    xdg_toplevel_set_title(toplevel_.get(), "dcp counter");
    xdg_toplevel_set_app_id(toplevel_.get(), "org.dbuscheckpoint.WaylandCounter");
    // A fixed size: the shell centres or places it, the tests find it by
    // its frame.
    xdg_toplevel_set_min_size(toplevel_.get(), layout::kWidth, layout::kHeight);
    xdg_toplevel_set_max_size(toplevel_.get(), layout::kWidth, layout::kHeight);
    wl_surface_commit(surface_.get());

    sd_bus *session = nullptr;
    check_bus(sd_bus_open_user(&session), "cannot connect to the session bus");
    session_.reset(session);
    sd_bus *system = nullptr;
    check_bus(sd_bus_open_system(&system), "cannot connect to the system bus");
    system_.reset(system);
    for (sd_bus *bus : {session_.get(), system_.get()}) {
      sd_bus_slot *slot = nullptr;
      check_bus(sd_bus_add_object_vtable(bus, &slot, kObjectPath, kInterface, kVtable, this),
                "cannot export " + std::string(kObjectPath));
      slots_.emplace_back(slot);
    }
    check_bus(sd_bus_request_name(session_.get(), options_.name.c_str(), 0),
              "cannot own " + options_.name + " on the session bus");
    check_bus(sd_bus_request_name(system_.get(), options_.name.c_str(), 0),
              "cannot own " + options_.name + " on the system bus");
  }

  int run()
  {
    const int wayland_fd = wl_display_get_fd(display_.get());
    while (!closed_) {
      while (wl_display_prepare_read(display_.get()) != 0)
        wl_display_dispatch_pending(display_.get());
      if (wl_display_flush(display_.get()) < 0 && errno != EAGAIN) {
        wl_display_cancel_read(display_.get());
        throw Failure(std::string("Wayland connection lost: ") + std::strerror(errno));
      }
      std::vector<pollfd> fds{{wayland_fd, POLLIN, 0}};
      int timeout_ms = -1;
      for (sd_bus *bus : {session_.get(), system_.get()}) {
        fds.push_back({check_bus(sd_bus_get_fd(bus), "sd_bus_get_fd"),
                       static_cast<short>(check_bus(sd_bus_get_events(bus), "sd_bus_get_events")),
                       0});
        timeout_ms = merge_timeout(bus, timeout_ms);
      }
      if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
        wl_display_cancel_read(display_.get());
        throw Failure(std::string("poll: ") + std::strerror(errno));
      }
      if (fds[0].revents & POLLIN) {
        if (wl_display_read_events(display_.get()) < 0)
          throw Failure(std::string("Wayland connection lost: ") + std::strerror(errno));
      } else {
        wl_display_cancel_read(display_.get());
      }
      if (wl_display_dispatch_pending(display_.get()) < 0)
        throw Failure("Wayland protocol error");
      for (sd_bus *bus : {session_.get(), system_.get()})
        while (check_bus(sd_bus_process(bus, nullptr), "bus connection lost") > 0) {
        }
    }
    return 0;
  }

 private:
  static int merge_timeout(sd_bus *bus, int timeout_ms)
  {
    std::uint64_t until = 0;
    if (sd_bus_get_timeout(bus, &until) <= 0 || until == UINT64_MAX)
      return timeout_ms;
    struct timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const std::uint64_t now_usec = now.tv_sec * 1000000ull + now.tv_nsec / 1000;
    const int ms = until <= now_usec ? 0 : static_cast<int>((until - now_usec + 999) / 1000);
    return timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
  }

  static void global(void *data, wl_registry *registry, uint32_t name, const char *interface,
                     uint32_t)
  {
    auto *self = static_cast<CounterApp *>(data);
    if (std::strcmp(interface, wl_compositor_interface.name) == 0) {
      self->compositor_.reset(static_cast<wl_compositor *>(
          wl_registry_bind(registry, name, &wl_compositor_interface, 4)));
    } else if (std::strcmp(interface, wl_shm_interface.name) == 0) {
      self->shm_.reset(static_cast<wl_shm *>(wl_registry_bind(registry, name, &wl_shm_interface, 1)));
    } else if (std::strcmp(interface, xdg_wm_base_interface.name) == 0) {
      self->wm_base_.reset(static_cast<xdg_wm_base *>(
          wl_registry_bind(registry, name, &xdg_wm_base_interface, 1)));
      static const xdg_wm_base_listener listener = {
          .ping = [](void *, xdg_wm_base *base, uint32_t serial) { xdg_wm_base_pong(base, serial); }};
      xdg_wm_base_add_listener(self->wm_base_.get(), &listener, self);
    }
  }

  static void configured(void *data, xdg_surface *surface, uint32_t serial)
  {
    auto *self = static_cast<CounterApp *>(data);
    xdg_surface_ack_configure(surface, serial);
    if (!self->configured_once_) {
      self->configured_once_ = true;
      self->show(self->value_);
    } else {
      wl_surface_commit(self->surface_.get());
    }
  }

  // Draws `value` into a new buffer and commits it; what waits for it to
  // be on screen is answered from the frame callback.
  void show(std::uint32_t value)
  {
    Buffer &buffer = buffers_.emplace_back(shm_.get(), buffers_);
    draw(buffer.pixels(), value);
    wl_surface_attach(surface_.get(), buffer.get(), 0, 0);
    wl_surface_damage(surface_.get(), 0, 0, layout::kWidth, layout::kHeight);
    frame_.reset(wl_surface_frame(surface_.get()));
    static const wl_callback_listener listener = {.done = &CounterApp::frame_done};
    wl_callback_add_listener(frame_.get(), &listener, this);
    wl_surface_commit(surface_.get());
    shown_pending_ = value;
  }

  static void frame_done(void *data, wl_callback *, uint32_t)
  {
    auto *self = static_cast<CounterApp *>(data);
    self->frame_.reset();
    self->shown_ = self->shown_pending_;
    std::vector<Message> waiting;
    waiting.swap(self->waiting_);
    for (Message &call : waiting)
      sd_bus_reply_method_return(call.get(), "u", self->shown_);
    if (!self->ready_written_ && !self->options_.ready_file.empty())
      self->write_ready_file();
    if (self->shown_ != self->value_)
      self->show(self->value_);
  }

  void write_ready_file()
  {
    ready_written_ = true;
    const char *session_name = nullptr;
    const char *system_name = nullptr;
    sd_bus_get_unique_name(session_.get(), &session_name);
    sd_bus_get_unique_name(system_.get(), &system_name);
    const std::string temporary = options_.ready_file + ".tmp";
    {
      std::ofstream out(temporary, std::ios::trunc);
      out << (session_name ? session_name : "") << " " << (system_name ? system_name : "") << "\n";
      if (!out.flush())
        throw Failure("cannot write " + temporary);
    }
    std::filesystem::rename(temporary, options_.ready_file);
  }

  static int method_increment(sd_bus_message *call, void *data, sd_bus_error *)
  {
    auto *self = static_cast<CounterApp *>(data);
    self->value_++;
    self->waiting_.emplace_back(sd_bus_message_ref(call));
    if (!self->frame_)  // else frame_done draws the latest value
      self->show(self->value_);
    return 1;
  }

  static int method_get(sd_bus_message *call, void *data, sd_bus_error *)
  {
    return sd_bus_reply_method_return(call, "u", static_cast<CounterApp *>(data)->value_);
  }

  static constexpr sd_bus_vtable kVtable[] = {
      SD_BUS_VTABLE_START(0),
      SD_BUS_METHOD("Increment", "", "u", &CounterApp::method_increment, SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_METHOD("Get", "", "u", &CounterApp::method_get, SD_BUS_VTABLE_UNPRIVILEGED),
      SD_BUS_VTABLE_END};

  Options options_;
  Display display_;  // declared first: destroyed last
  Registry registry_;
  Compositor compositor_;
  Shm shm_;
  WmBase wm_base_;
  Surface surface_;
  XdgSurface xdg_surface_;
  Toplevel toplevel_;
  Callback frame_;
  std::list<Buffer> buffers_;
  Bus session_;
  Bus system_;
  std::vector<Slot> slots_;
  std::vector<Message> waiting_;  // Increment calls answered once shown
  std::uint32_t value_ = 0;
  std::uint32_t shown_ = 0;
  std::uint32_t shown_pending_ = 0;
  bool configured_once_ = false;
  bool ready_written_ = false;
  bool closed_ = false;
};

} // namespace

int main(int argc, char **argv)
{
  Options options = parse_options(argc, argv);
  try {
    CounterApp app(std::move(options));
    app.connect();
    return app.run();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "dcp-wayland-counter: %s\n", e.what());
    return 1;
  }
}
