# SPDX-License-Identifier: GPL-2.0-or-later
# dcp_fetch_debian_orig(PACKAGE ORIG_FILE SHA256 OUT_VAR [SUITES suite...])
#
# At configure time, download ORIG_FILE of Debian source package PACKAGE
# (from the first of SUITES that carries it; default trixie) into
# ${DCP_DOWNLOAD_DIR} with scripts/fetch-debian-orig.sh, which checks the
# pinned sha256.  A failure stops the configure with the script's
# message.  OUT_VAR receives the tarball's path.
function(dcp_fetch_debian_orig package orig sha256 out_var)
  cmake_parse_arguments(arg "" "" "SUITES" ${ARGN})
  set(tarball ${DCP_DOWNLOAD_DIR}/${orig})
  execute_process(
    COMMAND ${CMAKE_SOURCE_DIR}/scripts/fetch-debian-orig.sh
            ${package} ${orig} ${sha256} ${DCP_DOWNLOAD_DIR} ${arg_SUITES}
    RESULT_VARIABLE result
    OUTPUT_VARIABLE output
    ERROR_VARIABLE error)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "Fetching ${orig} failed:\n${output}${error}"
      "Check that this machine reaches Debian's archive through apt "
      "(apt-get update works), or place ${orig} in ${DCP_DOWNLOAD_DIR}.")
  endif()
  string(STRIP "${output}" output)
  message(STATUS "${output}")
  set(${out_var} ${tarball} PARENT_SCOPE)
endfunction()
