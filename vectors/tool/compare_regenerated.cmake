# Regenerates the vector files and compares them byte for byte with the committed ones, so that a
# change to the library or the generator cannot silently leave the published vectors stale.
#
#   cmake -DTOOL=<opsync-vectors> -DCOMMITTED=<vectors dir> -DOUT=<scratch dir> -P compare_regenerated.cmake

cmake_minimum_required(VERSION 3.25)  # script mode: sets the policies (IN_LIST) this file uses

foreach(variable TOOL COMMITTED OUT)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "compare_regenerated.cmake needs -D${variable}=...")
  endif()
endforeach()

file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${TOOL}" generate --out "${OUT}"
                RESULT_VARIABLE generate_result OUTPUT_QUIET)
if(NOT generate_result EQUAL 0)
  message(FATAL_ERROR "opsync-vectors generate failed (${generate_result})")
endif()

file(GLOB generated RELATIVE "${OUT}" "${OUT}/*.json")
file(GLOB committed RELATIVE "${COMMITTED}" "${COMMITTED}/*.json")
find_program(DIFF_PROGRAM diff)

set(differences "")
foreach(name IN LISTS generated)
  if(NOT EXISTS "${COMMITTED}/${name}")
    string(APPEND differences "  ${name}: generated, but not committed\n")
    continue()
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${OUT}/${name}" "${COMMITTED}/${name}"
                  RESULT_VARIABLE same)
  if(same EQUAL 0)
    continue()
  endif()
  string(APPEND differences "  ${name}: differs from the committed file\n")
  if(DIFF_PROGRAM)
    execute_process(COMMAND "${DIFF_PROGRAM}" -u "${COMMITTED}/${name}" "${OUT}/${name}"
                    OUTPUT_VARIABLE diff_text)
    string(LENGTH "${diff_text}" diff_length)
    if(diff_length GREATER 3000)
      string(SUBSTRING "${diff_text}" 0 3000 diff_text)
      string(APPEND diff_text "\n    ... (diff cut)")
    endif()
    string(REPLACE "\n" "\n    " diff_text "${diff_text}")
    string(APPEND differences "    ${diff_text}\n")
  endif()
endforeach()
foreach(name IN LISTS committed)
  if(NOT name IN_LIST generated)
    string(APPEND differences "  ${name}: committed, but no longer generated\n")
  endif()
endforeach()

if(differences)
  message(FATAL_ERROR
    "The committed vectors differ from what the generator writes now:\n${differences}"
    "If the change is intended (ids of published test cases must never change meaning), "
    "regenerate and review the diff:\n"
    "  ${TOOL} generate --out ${COMMITTED}\n"
    "  git diff -- vectors/")
endif()
list(LENGTH generated count)
message(STATUS "all ${count} vector files regenerate byte for byte")
