# SPDX-License-Identifier: GPL-2.0-or-later
# Every build dependency, each with the Debian package that provides it, so a
# missing one stops the configure step with a message saying how to fix it.

find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: run scripts/install-deps.sh (package pkg-config)")
endif()

function(dcp_require_program var program package)
  find_program(${var} ${program})
  if(NOT ${var})
    message(FATAL_ERROR "'${program}' not found: run scripts/install-deps.sh (Debian package ${package})")
  endif()
endfunction()

function(dcp_require_pkg prefix module package)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR "${module} not found by pkg-config: run scripts/install-deps.sh (Debian package ${package})")
  endif()
endfunction()

dcp_require_program(MESON_EXECUTABLE meson meson)
dcp_require_program(NINJA_EXECUTABLE ninja ninja-build)
dcp_require_program(PATCH_EXECUTABLE patch patch)
dcp_require_program(MAKE_EXECUTABLE make make)
dcp_require_program(PROTOC_EXECUTABLE protoc protobuf-compiler)
# Debian's own python3: python3-dbus and python3-gi are installed for it, and
# another python3 earlier in PATH (pyenv, venv) would not see them.
find_program(SYSTEM_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT SYSTEM_PYTHON3)
  message(FATAL_ERROR "/usr/bin/python3 not found: run scripts/install-deps.sh (Debian package python3)")
endif()

dcp_require_pkg(PROTOBUF protobuf-lite libprotobuf-dev)
dcp_require_pkg(LIBSYSTEMD libsystemd libsystemd-dev)
dcp_require_pkg(EXPAT expat libexpat1-dev)
dcp_require_pkg(LIBCAPNG libcap-ng libcap-ng-dev)
dcp_require_pkg(LIBDBUS dbus-1 libdbus-1-dev)  # raw-socket tests marshal with libdbus
# test/services' Wayland client and test/wayland's screenshot checks.
dcp_require_pkg(WAYLAND_CLIENT wayland-client libwayland-dev)
dcp_require_pkg(WAYLAND_PROTOCOLS wayland-protocols wayland-protocols)
pkg_get_variable(WAYLAND_PROTOCOLS_DIR wayland-protocols pkgdatadir)
dcp_require_program(WAYLAND_SCANNER_EXECUTABLE wayland-scanner libwayland-bin)
dcp_require_pkg(LIBPNG libpng libpng-dev)

# The CLI's --json output and its files (dbus-checkpoint.json).
find_package(nlohmann_json 3.10 QUIET)
if(NOT nlohmann_json_FOUND)
  message(FATAL_ERROR "nlohmann-json not found: run scripts/install-deps.sh (Debian package nlohmann-json3-dev)")
endif()

find_package(Boost 1.74 COMPONENTS unit_test_framework)
if(NOT Boost_UNIT_TEST_FRAMEWORK_FOUND)
  message(FATAL_ERROR "Boost.Test not found: run scripts/install-deps.sh (Debian package libboost-test-dev)")
endif()

# Real clients the tests drive the bus with, as administrators do.
dcp_require_program(DBUS_SEND_EXECUTABLE dbus-send dbus-bin)
dcp_require_program(BUSCTL_EXECUTABLE busctl systemd)
dcp_require_program(GDBUS_EXECUTABLE gdbus libglib2.0-bin)
dcp_require_program(SETPRIV_EXECUTABLE setpriv util-linux)
# test/wayland: a real compositor, its screenshot client, a real toolkit app.
dcp_require_program(WESTON_EXECUTABLE weston weston)
dcp_require_program(WESTON_SCREENSHOOTER_EXECUTABLE weston-screenshooter weston)
dcp_require_program(WESTON_TERMINAL_EXECUTABLE weston-terminal weston)
# test/wayland's session with a keyboard: weston's x11 backend in Xvfb, keys
# typed with xdotool; the session in an IPC namespace of its own (unshare).
dcp_require_program(XVFB_EXECUTABLE Xvfb xvfb)
dcp_require_program(XDOTOOL_EXECUTABLE xdotool xdotool)
dcp_require_program(UNSHARE_EXECUTABLE unshare util-linux)
