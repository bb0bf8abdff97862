# Build conventions shared by every component.

# Warnings for project code only: third-party headers come from system include directories, whose
# warnings the compiler suppresses.
add_library(opsync_warnings INTERFACE)
add_library(opsync::warnings ALIAS opsync_warnings)
target_compile_options(opsync_warnings INTERFACE -Wall -Wextra -Wpedantic -Werror)
if(OPSYNC_SANITIZE)
  # GCC documents -Wmaybe-uninitialized as unreliable under -fsanitize: with it, GCC 12 reports
  # false positives inside libstdc++'s <regex>. The release build keeps the warning.
  target_compile_options(opsync_warnings INTERFACE -Wno-maybe-uninitialized)
endif()

if(OPSYNC_SANITIZE)
  # Applied globally so every library and program is instrumented (test programs opt out of the
  # instrumentation of their own files below, at opsync_test_pch).
  # -O1 keeps the sanitized suite fast enough to run in CI on two cores.
  add_compile_options(-O1 -fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Precompiled headers for the heavy test dependencies, shared by all test programs.
add_library(opsync_test_pch STATIC "${CMAKE_CURRENT_LIST_DIR}/empty.cpp")
target_link_libraries(opsync_test_pch PUBLIC Boost::unit_test_framework rapidcheck
                      nlohmann_json::nlohmann_json opsync::warnings)
target_compile_definitions(opsync_test_pch PUBLIC BOOST_TEST_DYN_LINK)
# property_support.h: running properties against broken variants, shared by every test program.
target_include_directories(opsync_test_pch PUBLIC "${CMAKE_CURRENT_LIST_DIR}")
# Test programs compile without optimization and with line tables only: their cost is template
# instantiation (Boost.Test, RapidCheck, generic tests over every message type), and -O0 -g1
# compiles them about three times faster. The code under test, the libraries, keeps the build's
# optimization, so tests still exercise the code as it ships.
target_compile_options(opsync_test_pch PUBLIC -O0 -g1)
if(OPSYNC_SANITIZE)
  # Under the sanitizers the test programs' own files are not instrumented (the runtime is still
  # linked): the code under test, the libraries and programs, is, and that is where the sanitizers
  # look for errors. Instrumenting the tests' templates more than doubled their compile time, a
  # tenth of the fifteen minutes scripts/test may take.
  # Tests that scale their loads to the instrumented code ask OPSYNC_SANITIZED, since
  # __SANITIZE_ADDRESS__ is not defined in their own files.
  target_compile_options(opsync_test_pch PUBLIC -fno-sanitize=all)
  target_compile_definitions(opsync_test_pch PUBLIC OPSYNC_SANITIZED=1)
else()
  target_compile_definitions(opsync_test_pch PUBLIC OPSYNC_SANITIZED=0)
endif()
target_precompile_headers(opsync_test_pch PUBLIC
  <boost/test/unit_test.hpp> <rapidcheck.h> <rapidcheck/boost_test.h> <nlohmann/json.hpp>)

# opsync_add_test_program(NAME SOURCES ... LIBRARIES ... SUITES ...)
#
# One Boost.Test program; each suite becomes its own CTest test so failures are reported per
# suite and suites run in parallel. Tests run from the source root so they find spec/ and vectors/.
function(opsync_add_test_program name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES;SUITES;LABELS" ${ARGN})
  add_executable(${name} "${PROJECT_SOURCE_DIR}/cmake/test_main.cpp" ${ARG_SOURCES})
  target_compile_definitions(${name} PRIVATE OPSYNC_TEST_PROGRAM="${name}")
  target_link_libraries(${name} PRIVATE opsync_test_pch opsync::warnings ${ARG_LIBRARIES})
  target_precompile_headers(${name} REUSE_FROM opsync_test_pch)
  foreach(suite IN LISTS ARG_SUITES)
    add_test(NAME ${name}.${suite}
             COMMAND ${name} --run_test=${suite} --color_output=no --log_level=test_suite
             WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
    set_tests_properties(${name}.${suite} PROPERTIES LABELS "${ARG_LABELS}")
  endforeach()
endfunction()
