# lwIP and BearSSL, compiled from the pinned Debian sources (make deps) with our options.
set(LWIP_DIR "${GW_DEPS_DIR}/lwip")
set(BEARSSL_DIR "${GW_DEPS_DIR}/bearssl")
if(NOT EXISTS "${LWIP_DIR}/.verified" OR NOT EXISTS "${BEARSSL_DIR}/.verified")
  message(FATAL_ERROR "third-party sources missing under ${GW_DEPS_DIR}: run 'make deps'")
endif()

# Third-party code builds with its own warnings, never -Werror, but with our size flags.
set(GW_THIRDPARTY_FLAGS -w)

include("${LWIP_DIR}/src/Filelists.cmake")
add_library(lwip STATIC
  ${lwipcore_SRCS} ${lwipcore4_SRCS} ${lwipnetif_SRCS} ${lwipsntp_SRCS})
# lwipopts.h and arch/cc.h come from net/port; lwIP reads them through its include path.
target_include_directories(lwip PUBLIC
  "${CMAKE_SOURCE_DIR}/net/port" "${LWIP_DIR}/src/include")
target_compile_options(lwip PRIVATE ${GW_THIRDPARTY_FLAGS})

file(GLOB_RECURSE BEARSSL_SRCS "${BEARSSL_DIR}/src/*.c")
add_library(bearssl STATIC ${BEARSSL_SRCS})
target_include_directories(bearssl PUBLIC "${BEARSSL_DIR}/inc")
target_include_directories(bearssl PRIVATE "${BEARSSL_DIR}/src")
target_compile_options(bearssl PRIVATE ${GW_THIRDPARTY_FLAGS})
# No hidden fallbacks: entropy is injected by us (fail closed), certificate time is always set
# explicitly from the board clock, never read behind our back from time().
target_compile_definitions(bearssl PRIVATE
  BR_USE_URANDOM=0 BR_RDRAND=0 BR_USE_UNIX_TIME=0)
