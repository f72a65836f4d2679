# Compiler options shared by every crd target (linked PRIVATE so they never leak to users).
# -Wnull-dereference is left out: GCC 12 reports it inside inlined Asio code at -O2, where the
# system-header exemption does not reach.
option(CRD_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" ON)
set(CRD_SANITIZERS "" CACHE STRING "Sanitizers to build with, e.g. address,undefined or thread")

add_library(crd_options INTERFACE)
add_library(crd::options ALIAS crd_options)
target_compile_options(crd_options INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
    # GCC 12 false positive on Asio's awaitable frame allocator (operator new/delete pair of
    # awaitable_frame_base) in larger coroutines; the pair is matched by construction. The frames
    # now come from malloc (core/CMakeLists.txt); the flag stays for a build that turns Asio's
    # recycling back on.
    -Wno-mismatched-new-delete
    # GCC 12 false positive at -O3 (Release) inside libstdc++'s std::string operator+
    # (GCC bug 105329): "__builtin_memcpy ... may overlap".
    -Wno-restrict
    $<$<BOOL:${CRD_WARNINGS_AS_ERRORS}>:-Werror>)
# The malloc crd-server links. jemalloc's per-thread caches serve the blocks a hook call takes and
# gives back (coroutine frames of 1-2.5 KB, bodies, documents) several times cheaper than glibc,
# which caches only blocks up to 1 KB per thread (bench/README.md, ninth part). Under sanitizers (and
# in the fuzz tree, which builds with ASan) the sanitizer's own allocator must stay: "system".
set(CRD_ALLOCATOR "" CACHE STRING "The malloc crd-server links: jemalloc or system (empty: jemalloc, or system under sanitizers)")
if(CRD_SANITIZERS OR CRD_FUZZ)
    set(crd_sanitized_build ON)
else()
    set(crd_sanitized_build OFF)
endif()
if(CRD_ALLOCATOR STREQUAL "")
    if(crd_sanitized_build)
        set(CRD_ALLOCATOR_USED system)
    else()
        set(CRD_ALLOCATOR_USED jemalloc)
    endif()
else()
    set(CRD_ALLOCATOR_USED ${CRD_ALLOCATOR})
endif()
if(CRD_ALLOCATOR_USED STREQUAL "jemalloc" AND crd_sanitized_build)
    message(FATAL_ERROR "CRD_ALLOCATOR=jemalloc cannot be combined with sanitizers (CRD_SANITIZERS, CRD_FUZZ): "
        "the sanitizer's allocator replaces malloc; use CRD_ALLOCATOR=system or leave it empty")
endif()
if(CRD_ALLOCATOR_USED STREQUAL "jemalloc")
    find_library(CRD_JEMALLOC_LIBRARY NAMES jemalloc)
    if(NOT CRD_JEMALLOC_LIBRARY)
        message(FATAL_ERROR "jemalloc not found: run scripts/install-deps.sh (Debian's libjemalloc-dev), "
            "or configure with -DCRD_ALLOCATOR=system")
    endif()
elseif(NOT CRD_ALLOCATOR_USED STREQUAL "system")
    message(FATAL_ERROR "CRD_ALLOCATOR is jemalloc or system, not '${CRD_ALLOCATOR_USED}'")
endif()
message(STATUS "crd-server allocator: ${CRD_ALLOCATOR_USED}")

if(CRD_SANITIZERS)
    target_compile_options(crd_options INTERFACE -fsanitize=${CRD_SANITIZERS} -fno-omit-frame-pointer)
    target_link_options(crd_options INTERFACE -fsanitize=${CRD_SANITIZERS})
endif()
