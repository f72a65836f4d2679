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
    # awaitable_frame_base) in larger coroutines; the pair is matched by construction.
    -Wno-mismatched-new-delete
    # GCC 12 false positive at -O3 (Release) inside libstdc++'s std::string operator+
    # (GCC bug 105329): "__builtin_memcpy ... may overlap".
    -Wno-restrict
    $<$<BOOL:${CRD_WARNINGS_AS_ERRORS}>:-Werror>)
if(CRD_SANITIZERS)
    target_compile_options(crd_options INTERFACE -fsanitize=${CRD_SANITIZERS} -fno-omit-frame-pointer)
    target_link_options(crd_options INTERFACE -fsanitize=${CRD_SANITIZERS})
endif()
