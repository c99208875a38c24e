# SPDX-License-Identifier: GPL-2.0-or-later
# -DDCP_BENCHMARKS=ON: the benchmark programs (test/bench/) and the stock
# dbus-daemon they compare ours with: the same Debian tarball and the same
# meson options as daemon/CMakeLists.txt (release build: no asserts, no
# verbose mode), but none of bus-patches/.  Include after
# add_subdirectory(daemon).
#
# Results: STOCK_DBUS_DAEMON_EXECUTABLE, STOCK_DBUS_SYSTEM_CONF (cache), target
# `stock-dbus-daemon` (built as the benchmarks' dependency).
#
# On with the tests (DCP_TESTS): the benchmark programs are built by every
# build, so a change that breaks them fails the build (the test suite does
# not run them: scripts/bench.sh does).

option(DCP_BENCHMARKS "Build the benchmarks (test/bench/) and a stock dbus-daemon" ${DCP_TESTS})
if(NOT DCP_BENCHMARKS)
  return()
endif()

get_directory_property(stock_meson_options DIRECTORY ${CMAKE_SOURCE_DIR}/daemon
                       DEFINITION DBUS_MESON_OPTIONS)
get_directory_property(stock_tarball DIRECTORY ${CMAKE_SOURCE_DIR}/daemon
                       DEFINITION DBUS_TARBALL)
if(NOT stock_meson_options OR NOT stock_tarball)
  message(FATAL_ERROR "cmake/StockDbus.cmake must be included after add_subdirectory(daemon)")
endif()
# Stock dbus has no -Dcheckpoint (our bus-patches/0001 adds it).
list(FILTER stock_meson_options EXCLUDE REGEX "^-Dcheckpoint=")

set(stock_dir ${CMAKE_BINARY_DIR}/stock-dbus)
set(stock_source_dir ${stock_dir}/dbus-${DBUS_UPSTREAM_VERSION})
set(stock_meson_dir ${stock_dir}/meson)
# apply-patches.sh with an empty patch directory only unpacks.
set(stock_no_patches ${stock_dir}/no-patches)
# The stock tree does not look for our library: no pkg-config file is needed.
set(stock_no_pkgconfig ${stock_dir}/no-pkgconfig)
file(MAKE_DIRECTORY ${stock_no_patches})

set(STOCK_DBUS_DAEMON_EXECUTABLE ${stock_meson_dir}/bus/dbus-daemon CACHE INTERNAL "")
set(STOCK_DBUS_SYSTEM_CONF ${stock_meson_dir}/bus/system.conf CACHE INTERNAL "")

set(stock_unpacked_stamp ${stock_dir}/unpacked.stamp)
add_custom_command(
  OUTPUT ${stock_unpacked_stamp}
  COMMAND ${CMAKE_SOURCE_DIR}/daemon/apply-patches.sh
          ${stock_tarball} ${stock_source_dir} ${stock_no_patches} ${stock_unpacked_stamp}
  DEPENDS ${stock_tarball} ${CMAKE_SOURCE_DIR}/daemon/apply-patches.sh
  COMMENT "Unpacking stock dbus ${DBUS_UPSTREAM_VERSION} (no patches) for the benchmarks"
  VERBATIM)

set(stock_meson_stamp ${stock_dir}/meson-setup.stamp)
add_custom_command(
  OUTPUT ${stock_meson_stamp}
  COMMAND ${CMAKE_SOURCE_DIR}/daemon/meson-setup.sh ${stock_no_pkgconfig}
          ${stock_meson_dir} ${stock_source_dir} ${stock_dir}/meson-setup.log
          ${stock_meson_options}
  COMMAND ${CMAKE_COMMAND} -E touch ${stock_meson_stamp}
  DEPENDS ${stock_unpacked_stamp} ${CMAKE_SOURCE_DIR}/daemon/meson-setup.sh
  # Not the top build directory: meson runs ninja tools in its working
  # directory, and there they would rewrite the running build's .ninja_log.
  WORKING_DIRECTORY ${stock_dir}
  COMMENT "Configuring the stock dbus-daemon with meson"
  VERBATIM)

# Only the daemon (meson setup wrote bus/system.conf): no upstream tests.
add_custom_target(stock-dbus-daemon
  COMMAND ${NINJA_EXECUTABLE} -C ${stock_meson_dir} bus/dbus-daemon
  DEPENDS ${stock_meson_stamp}
  WORKING_DIRECTORY ${stock_dir}
  BYPRODUCTS ${STOCK_DBUS_DAEMON_EXECUTABLE}
  COMMENT "Building the stock dbus-daemon (benchmarks)"
  USES_TERMINAL
  VERBATIM)
