# SPDX-License-Identifier: GPL-2.0-or-later
# The libFuzzer targets of test/fuzz/ live in a build tree of their own,
# ${CMAKE_BINARY_DIR}/fuzz, configured from this same source tree with
# -DDCP_FUZZ=ON and clang (libFuzzer and the sanitizers need it; the main
# build may use gcc).  It is built with the main build, so ctest can run
# each target for a bounded time (test/fuzz/CMakeLists.txt) and
# scripts/fuzz.sh can run a campaign.
include(ExternalProject)
find_program(DCP_CLANGXX clang++)
find_program(DCP_CLANG clang)
if(NOT DCP_CLANGXX OR NOT DCP_CLANG)
  message(FATAL_ERROR "clang/clang++ not found (the fuzz targets need libFuzzer): "
                      "run scripts/install-deps.sh (Debian packages clang, libclang-rt-14-dev)")
endif()
set(DCP_FUZZ_BINARY_DIR ${CMAKE_BINARY_DIR}/fuzz)
ExternalProject_Add(fuzz_targets
  SOURCE_DIR ${PROJECT_SOURCE_DIR}
  BINARY_DIR ${DCP_FUZZ_BINARY_DIR}
  CMAKE_GENERATOR Ninja
  CMAKE_ARGS -DDCP_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
             -DCMAKE_CXX_COMPILER=${DCP_CLANGXX} -DCMAKE_C_COMPILER=${DCP_CLANG}
  BUILD_COMMAND ${CMAKE_COMMAND} --build <BINARY_DIR> --target dcp_fuzz_all
  INSTALL_COMMAND ""
  BUILD_ALWAYS ON
  USES_TERMINAL_BUILD ON)
