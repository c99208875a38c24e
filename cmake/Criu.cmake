# SPDX-License-Identifier: GPL-2.0-or-later
# CRIU >= 4.2 that really works on this machine.  `criu check` proves
# nothing (CRIU 4.1.1 says "Looks good" and then hangs in every dump where
# hardware breakpoints are not virtualized), so the system's criu is used only
# when it is >= 4.2 and the probe (checkpoint/criu-probe: dump and restore a
# small test process, 20 s limit), compiled here at configure time, passes.
# Otherwise CRIU 4.2.1 is built from Debian's orig tarball (forky / sid) in
# the build tree, with our criu-patches/ (see its README).  criu-plugin.h always comes from that pinned source, so our
# plugin compiles against the same API whichever binary runs it.
#
# Results: CRIU_EXECUTABLE (cache), CRIU_PLUGIN_INCLUDE_DIR, target `criu`.

set(DCP_CRIU "AUTO" CACHE STRING "CRIU to use: AUTO (system if >= 4.2 and the probe passes, else build 4.2.1), SYSTEM, BUILD")
set_property(CACHE DCP_CRIU PROPERTY STRINGS AUTO SYSTEM BUILD)
set(DCP_CRIU_MINIMUM 4.2)

dcp_fetch_debian_orig(criu criu_${CRIU_UPSTREAM_VERSION}.orig.tar.xz
                      ${CRIU_ORIG_SHA256} CRIU_TARBALL SUITES ${CRIU_DEBIAN_SUITES})

# The tree is unpacked and criu-patches/*.patch applied in name order; a
# stamp holding the tarball's and the patches' sha256 makes a changed
# series unpack and build afresh.
set(CRIU_SOURCE_DIR ${CMAKE_BINARY_DIR}/criu/criu-${CRIU_UPSTREAM_VERSION})
file(GLOB CRIU_PATCHES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/criu-patches/*.patch)
list(SORT CRIU_PATCHES)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CRIU_PATCHES})
set(criu_series "${CRIU_ORIG_SHA256}")
foreach(patch ${CRIU_PATCHES})
  file(SHA256 ${patch} patch_sha256)
  string(APPEND criu_series " ${patch_sha256}")
endforeach()
set(CRIU_PATCH_STAMP ${CRIU_SOURCE_DIR}/.dcp-criu-patches)
set(criu_applied "")
if(EXISTS ${CRIU_PATCH_STAMP})
  file(READ ${CRIU_PATCH_STAMP} criu_applied)
endif()
if(NOT criu_applied STREQUAL criu_series OR NOT EXISTS ${CRIU_SOURCE_DIR}/Makefile)
  file(REMOVE_RECURSE ${CRIU_SOURCE_DIR})
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/criu)
  execute_process(COMMAND tar -xf ${CRIU_TARBALL} -C ${CMAKE_BINARY_DIR}/criu
                  RESULT_VARIABLE result)
  if(NOT result EQUAL 0 OR NOT EXISTS ${CRIU_SOURCE_DIR}/Makefile)
    message(FATAL_ERROR "Unpacking ${CRIU_TARBALL} into ${CMAKE_BINARY_DIR}/criu failed")
  endif()
  foreach(patch ${CRIU_PATCHES})
    execute_process(COMMAND patch -p1 --batch --forward --quiet -i ${patch}
                    WORKING_DIRECTORY ${CRIU_SOURCE_DIR}
                    RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT result EQUAL 0)
      message(FATAL_ERROR "CRIU patch ${patch} does not apply to ${CRIU_UPSTREAM_VERSION}:\n${out}${err}")
    endif()
  endforeach()
  file(WRITE ${CRIU_PATCH_STAMP} "${criu_series}")
  list(LENGTH CRIU_PATCHES n_patches)
  message(STATUS "CRIU: unpacked ${CRIU_UPSTREAM_VERSION} and applied ${n_patches} patch(es) from criu-patches/")
endif()
set(CRIU_PLUGIN_INCLUDE_DIR ${CRIU_SOURCE_DIR}/criu/include)

# dcp_probe_criu(CRIU OUT_VAR): OUT_VAR is TRUE when the probe dumped and
# restored its test process with CRIU; its message is printed either way.
function(dcp_probe_criu criu out_var)
  set(${out_var} FALSE PARENT_SCOPE)
  set(probe_dir ${CMAKE_SOURCE_DIR}/checkpoint/criu-probe)
  set(probe ${CMAKE_BINARY_DIR}/criu/dcp-criu-probe-configure)
  try_compile(built ${CMAKE_BINARY_DIR}/criu/probe-build
    SOURCES ${probe_dir}/criu_probe.cpp ${probe_dir}/probe_main.cpp ${probe_dir}/criu_output.cpp
            ${CMAKE_SOURCE_DIR}/checkpoint/base/program.cpp
    CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${CMAKE_SOURCE_DIR}/checkpoint"
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON
    COPY_FILE ${probe}
    OUTPUT_VARIABLE build_output)
  if(NOT built)
    message(FATAL_ERROR "Compiling the CRIU probe (${probe_dir}) failed:\n${build_output}")
  endif()
  execute_process(
    COMMAND ${probe} --criu ${criu} --time-limit 20
            --advice "building CRIU ${CRIU_UPSTREAM_VERSION} instead (-DDCP_CRIU=BUILD does so always)"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 40)
  string(STRIP "${out}${err}" said)
  message(STATUS "CRIU: ${said}")
  if(rc EQUAL 0)
    set(${out_var} TRUE PARENT_SCOPE)
  endif()
endfunction()

function(dcp_system_criu_usable out_var)
  set(${out_var} FALSE PARENT_SCOPE)
  find_program(system_criu criu PATHS /usr/sbin /sbin NO_CACHE)
  if(NOT system_criu)
    message(STATUS "CRIU: no criu on this system")
    return()
  endif()
  execute_process(COMMAND ${system_criu} --version OUTPUT_VARIABLE out ERROR_QUIET TIMEOUT 10)
  string(REGEX MATCH "Version: ([0-9]+)\\.([0-9]+)" _ "${out}")
  if(NOT CMAKE_MATCH_1 OR "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}" VERSION_LESS ${DCP_CRIU_MINIMUM})
    message(STATUS "CRIU: ${system_criu} is version ${CMAKE_MATCH_1}.${CMAKE_MATCH_2}, need >= ${DCP_CRIU_MINIMUM} "
                   "(< 4.2 hangs where hardware breakpoints are not virtualized)")
    return()
  endif()
  execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT uid STREQUAL "0")
    message(STATUS "CRIU: not root, so ${system_criu} cannot be probed")
    return()
  endif()
  dcp_probe_criu(${system_criu} works)
  if(works)
    set(${out_var} ${system_criu} PARENT_SCOPE)
  endif()
endfunction()

set(criu_system "")
if(NOT DCP_CRIU STREQUAL "BUILD")
  dcp_system_criu_usable(criu_system)
  if(NOT criu_system AND DCP_CRIU STREQUAL "SYSTEM")
    message(FATAL_ERROR "DCP_CRIU=SYSTEM but the system's criu is missing, older than "
                        "${DCP_CRIU_MINIMUM} or fails the probe (see above); -DDCP_CRIU=BUILD "
                        "builds CRIU ${CRIU_UPSTREAM_VERSION}")
  endif()
endif()

if(criu_system)
  message(STATUS "CRIU: using ${criu_system}")
  set(CRIU_EXECUTABLE ${criu_system} CACHE INTERNAL "")
  add_custom_target(criu)
else()
  message(STATUS "CRIU: building ${CRIU_UPSTREAM_VERSION} from source in ${CRIU_SOURCE_DIR}")
  dcp_require_program(PROTOC_C_EXECUTABLE protoc-c protobuf-c-compiler)
  dcp_require_pkg(CRIU_PROTOBUF_C libprotobuf-c libprotobuf-c-dev)
  dcp_require_pkg(CRIU_NL libnl-3.0 libnl-3-dev)
  dcp_require_pkg(CRIU_CAP libcap libcap-dev)
  dcp_require_pkg(CRIU_BSD libbsd libbsd-dev)
  find_library(CRIU_LIBNET net)
  if(NOT CRIU_LIBNET)
    message(FATAL_ERROR "libnet not found: run scripts/install-deps.sh (Debian package libnet1-dev)")
  endif()
  execute_process(COMMAND ${SYSTEM_PYTHON3} -c "import google.protobuf"
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${SYSTEM_PYTHON3} cannot import google.protobuf (needed by CRIU's build): "
                        "run scripts/install-deps.sh (Debian package python3-protobuf)")
  endif()
  set(CRIU_EXECUTABLE ${CRIU_SOURCE_DIR}/criu/criu CACHE INTERNAL "")
  add_custom_command(
    OUTPUT ${CRIU_EXECUTABLE}
    COMMAND ${CMAKE_SOURCE_DIR}/scripts/build-criu.sh ${CRIU_SOURCE_DIR} ${CMAKE_BINARY_DIR}/criu/build.log
    DEPENDS ${CMAKE_SOURCE_DIR}/scripts/build-criu.sh ${CRIU_PATCH_STAMP}
    COMMENT "Building CRIU ${CRIU_UPSTREAM_VERSION} (log: criu/build.log)"
    VERBATIM)
  add_custom_target(criu ALL DEPENDS ${CRIU_EXECUTABLE})
endif()
