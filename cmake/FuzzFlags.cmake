# SPDX-License-Identifier: GPL-2.0-or-later
# The fuzz build (-DDCP_FUZZ=ON): clang, every object instrumented for
# libFuzzer's coverage, AddressSanitizer and UndefinedBehaviorSanitizer
# (any UB aborts, so libFuzzer reports it as a crash).  The fuzz targets
# themselves link with -fsanitize=fuzzer (test/fuzz/CMakeLists.txt).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "DCP_FUZZ needs clang (libFuzzer): configure with "
                      "-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang "
                      "(Debian packages clang and libclang-rt-14-dev)")
endif()
set(DCP_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all)
add_compile_options(${DCP_SANITIZERS} -fsanitize=fuzzer-no-link -fno-omit-frame-pointer)
add_link_options(${DCP_SANITIZERS})
