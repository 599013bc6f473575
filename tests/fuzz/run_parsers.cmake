# Runs each parser's fuzz driver on its corpus plus RUNS mutated inputs
# (ctest fuzz/parsers). A failure names the target; the driver has saved
# the input that failed as fuzz-crash-*.bin in the working directory.
foreach(t ${TARGETS})
  execute_process(COMMAND ${BIN}/fuzz_${t} --runs ${RUNS} --seed 1 ${CORPUS}/${t}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "fuzz_${t} failed (${rc})")
  endif()
endforeach()
message("fuzz/parsers: ${TARGETS}: no crash")
