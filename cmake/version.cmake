# Run at every build (the gw_version target): writes OUT with the version string, the
# project's version and `git describe` of the source now, and touches OUT only when the
# string changed, so an unchanged tree rebuilds nothing and a new commit rebuilds one file.
# Configure-time `git describe` went stale in incremental trees (a build showed an old
# revision in `show status` and the tunnel's hello).
execute_process(COMMAND git describe --always --dirty --tags
  WORKING_DIRECTORY ${SRC} OUTPUT_VARIABLE GIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT GIT)
  set(GIT "unknown")
endif()
set(TEXT "#define GW_VERSION \"${VERSION}+${GIT}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} OLD)
endif()
if(NOT "${OLD}" STREQUAL "${TEXT}")
  file(WRITE ${OUT} "${TEXT}")
endif()
