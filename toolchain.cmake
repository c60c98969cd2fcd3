# Cross toolchains by GW_ARCH: static musl images for the gateway box.
#   x86_64   Debian's musl-gcc wrapper (musl-tools, musl-dev)
#   aarch64  Debian's aarch64-linux-musl-gcc wrapper (musl-dev:arm64 + gcc-aarch64-linux-gnu);
#            tests run under qemu-aarch64-static as the CTest emulator
#   host     the machine's own gcc/glibc: the ASan+UBSan unit build (sanitizers need glibc);
#            with -DCMAKE_C_COMPILER=clang, the libFuzzer build
# Pass -DGW_ARCH=... on the first configure; the Makefile does.
set(GW_ARCH "x86_64" CACHE STRING "target architecture: x86_64, aarch64 or host")

set(CMAKE_SYSTEM_NAME Linux)
if(GW_ARCH STREQUAL "x86_64")
  set(CMAKE_SYSTEM_PROCESSOR x86_64)
  set(CMAKE_C_COMPILER musl-gcc)
  set(GW_STATIC ON)
elseif(GW_ARCH STREQUAL "aarch64")
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
  set(CMAKE_C_COMPILER aarch64-linux-musl-gcc)
  set(CMAKE_AR aarch64-linux-gnu-ar CACHE FILEPATH "")
  set(CMAKE_RANLIB aarch64-linux-gnu-ranlib CACHE FILEPATH "")
  set(CMAKE_STRIP aarch64-linux-gnu-strip CACHE FILEPATH "")
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
  set(GW_STATIC ON)
elseif(GW_ARCH STREQUAL "host")
  if(NOT CMAKE_C_COMPILER)   # the fuzz build passes clang
    set(CMAKE_C_COMPILER gcc)
  endif()
  set(GW_STATIC OFF)
else()
  message(FATAL_ERROR "GW_ARCH must be x86_64, aarch64 or host, not '${GW_ARCH}'")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
