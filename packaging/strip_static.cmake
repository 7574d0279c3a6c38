# cpack, after installing into its staging tree: the SDK's static libraries lose their
# debugging sections (CPACK_STRIP_FILES strips programs only). `cmake --install` keeps them.
file(GLOB_RECURSE libraries "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*.a")
foreach(library ${libraries})
  execute_process(COMMAND strip --strip-debug "${library}" RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "strip --strip-debug ${library} failed")
  endif()
endforeach()
