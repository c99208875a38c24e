# CRIU >= 4.1.  The system's criu is used when it is new enough and
# `criu check` passes; otherwise (bookworm ships 3.17, which fails on recent
# kernels) CRIU 4.1.1 is built from Debian trixie's orig tarball in the build
# tree.  The plugin header criu-plugin.h always comes from that pinned source,
# so our plugin compiles against the same API whichever binary runs it.
#
# Results: CRIU_EXECUTABLE (cache), CRIU_PLUGIN_INCLUDE_DIR, target `criu`.

set(DCP_CRIU "AUTO" CACHE STRING "CRIU to use: AUTO (system if >= 4.1 and `criu check` passes, else build), SYSTEM, BUILD")
set_property(CACHE DCP_CRIU PROPERTY STRINGS AUTO SYSTEM BUILD)

dcp_fetch_debian_orig(criu criu_${CRIU_UPSTREAM_VERSION}.orig.tar.xz
                      ${CRIU_ORIG_SHA256} CRIU_TARBALL)

set(CRIU_SOURCE_DIR ${CMAKE_BINARY_DIR}/criu/criu-${CRIU_UPSTREAM_VERSION})
if(NOT EXISTS ${CRIU_SOURCE_DIR}/Makefile)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/criu)
  execute_process(COMMAND tar -xf ${CRIU_TARBALL} -C ${CMAKE_BINARY_DIR}/criu
                  RESULT_VARIABLE result)
  if(NOT result EQUAL 0 OR NOT EXISTS ${CRIU_SOURCE_DIR}/Makefile)
    message(FATAL_ERROR "Unpacking ${CRIU_TARBALL} into ${CMAKE_BINARY_DIR}/criu failed")
  endif()
endif()
set(CRIU_PLUGIN_INCLUDE_DIR ${CRIU_SOURCE_DIR}/criu/include)

function(dcp_system_criu_usable out_var)
  set(${out_var} FALSE PARENT_SCOPE)
  find_program(system_criu criu PATHS /usr/sbin /sbin NO_CACHE)
  if(NOT system_criu)
    message(STATUS "CRIU: no criu on this system")
    return()
  endif()
  execute_process(COMMAND ${system_criu} --version OUTPUT_VARIABLE out ERROR_QUIET)
  string(REGEX MATCH "Version: ([0-9]+)\\.([0-9]+)" _ "${out}")
  if(NOT CMAKE_MATCH_1 OR "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}" VERSION_LESS 4.1)
    message(STATUS "CRIU: ${system_criu} is version ${CMAKE_MATCH_1}.${CMAKE_MATCH_2}, need >= 4.1")
    return()
  endif()
  execute_process(COMMAND ${system_criu} check RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(STATUS "CRIU: `${system_criu} check` fails on this kernel")
    return()
  endif()
  set(${out_var} ${system_criu} PARENT_SCOPE)
endfunction()

set(criu_system "")
if(NOT DCP_CRIU STREQUAL "BUILD")
  dcp_system_criu_usable(criu_system)
  if(NOT criu_system AND DCP_CRIU STREQUAL "SYSTEM")
    message(FATAL_ERROR "DCP_CRIU=SYSTEM but the system's criu is missing, older than 4.1 or fails `criu check`")
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
    DEPENDS ${CMAKE_SOURCE_DIR}/scripts/build-criu.sh
    COMMENT "Building CRIU ${CRIU_UPSTREAM_VERSION} (log: criu/build.log)"
    VERBATIM)
  add_custom_target(criu ALL DEPENDS ${CRIU_EXECUTABLE})
endif()
