# lwIP and BearSSL, compiled from the pinned Debian sources (make deps) with our options.
set(LWIP_DIR "${GW_DEPS_DIR}/lwip")
set(BEARSSL_DIR "${GW_DEPS_DIR}/bearssl")
if(NOT EXISTS "${LWIP_DIR}/.verified" OR NOT EXISTS "${BEARSSL_DIR}/.verified")
  message(FATAL_ERROR "third-party sources missing under ${GW_DEPS_DIR}: run 'make deps'")
endif()

# Third-party code builds with its own warnings, never -Werror, but with our size flags.
set(GW_THIRDPARTY_FLAGS -w)

include("${LWIP_DIR}/src/Filelists.cmake")
# The pools are net/port/memp_lazy.c's (the same pools, touched only as used), not lwIP's.
list(REMOVE_ITEM lwipcore_SRCS "${LWIP_DIR}/src/core/memp.c")
add_library(lwip STATIC
  ${lwipcore_SRCS} ${lwipcore4_SRCS} ${lwipnetif_SRCS} ${lwipsntp_SRCS})
# lwipopts.h and arch/cc.h come from net/port; lwIP reads them through its include path.
target_include_directories(lwip PUBLIC
  "${CMAKE_SOURCE_DIR}/net/port" "${LWIP_DIR}/src/include")
target_compile_options(lwip PRIVATE ${GW_THIRDPARTY_FLAGS})
# The port (net/port) is lwIP's own other half: the hooks its core calls (time, SNTP,
# assertions, randomness, the IPv4 and TCP input guards, the pools), so it is built into the
# same library, with our warnings. It calls down only: the log, the DRBG; time and SNTP are
# handed in at boot.
add_library(gw_lwip_port OBJECT
  "${CMAKE_SOURCE_DIR}/net/port/sys_arch.c" "${CMAKE_SOURCE_DIR}/net/port/tcp_guard.c"
  "${CMAKE_SOURCE_DIR}/net/port/ip4_guard.c" "${CMAKE_SOURCE_DIR}/net/port/memp_lazy.c")
target_include_directories(gw_lwip_port PRIVATE
  "${CMAKE_SOURCE_DIR}/net/port" "${LWIP_DIR}/src/include")
target_link_libraries(gw_lwip_port PRIVATE gw_base gw_tls)
target_compile_options(gw_lwip_port PRIVATE ${GW_WARNINGS})
target_sources(lwip PRIVATE $<TARGET_OBJECTS:gw_lwip_port>)
target_link_libraries(lwip PUBLIC gw_base gw_tls)

file(GLOB_RECURSE BEARSSL_SRCS "${BEARSSL_DIR}/src/*.c")
add_library(bearssl STATIC ${BEARSSL_SRCS})
target_include_directories(bearssl PUBLIC "${BEARSSL_DIR}/inc")
target_include_directories(bearssl PRIVATE "${BEARSSL_DIR}/src")
target_compile_options(bearssl PRIVATE ${GW_THIRDPARTY_FLAGS})
# No hidden fallbacks: entropy is injected by us (fail closed), certificate time is always set
# explicitly from the board clock, never read behind our back from time().
target_compile_definitions(bearssl PRIVATE
  BR_USE_URANDOM=0 BR_RDRAND=0 BR_USE_UNIX_TIME=0)
# On x86 BearSSL reads and writes 16-, 32- and 64-bit words at any address on purpose
# (BR_LE_UNALIGNED in its inner.h: Poly1305, ChaCha20, the record layer), which UBSan
# reports as undefined behaviour. Under the sanitizers it gets its byte-wise code, which
# computes the same, so that the ChaCha20-Poly1305 suite is checked there too.
if(GW_SANITIZE OR GW_FUZZ)
  target_compile_definitions(bearssl PRIVATE BR_LE_UNALIGNED=0 BR_BE_UNALIGNED=0)
endif()
