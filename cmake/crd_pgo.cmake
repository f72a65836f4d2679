# Profile-guided optimisation (GCC), for the Release builds that are measured and shipped: the
# benchmark (./crd-dev bench) and the Debian package. scripts/pgo-build.sh runs the three steps:
#   CRD_PGO=generate  an instrumented build; running it writes counters into CRD_PGO_PROFILE_DIR
#   (bench/pgo-train.sh drives it through every hook, both decision protocols, client JWTs and prefetch)
#   CRD_PGO=use       the build that reads them: hot paths laid out together, branches ordered by the
#                     counts, inlining where calls are frequent (issue 19: 12% fewer instructions
#                     per call than the plain Release build, and less CPU; bench/README.md)
# Off by default: ./crd-dev build, test and sanitize never need a training run (CI builds the
# profile-guided tree as a further step of its own, .ci/run). A profile belongs to the sources it
# was trained on: GCC refuses one whose counters no longer match an edited function
# (-Wcoverage-mismatch, an error by default), so after an edit run scripts/pgo-build.sh again
# rather than rebuilding a CRD_PGO=use tree.
set(CRD_PGO "" CACHE STRING "Profile-guided optimisation: empty (off), generate or use (scripts/pgo-build.sh)")
set_property(CACHE CRD_PGO PROPERTY STRINGS "" generate use)
set(CRD_PGO_PROFILE_DIR "" CACHE PATH "Where CRD_PGO=generate writes and CRD_PGO=use reads the profile")

if(CRD_PGO)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        message(FATAL_ERROR "CRD_PGO is written for GCC's profile format; ${CMAKE_CXX_COMPILER_ID} is not supported")
    endif()
    if(NOT CRD_PGO_PROFILE_DIR)
        message(FATAL_ERROR "CRD_PGO=${CRD_PGO} needs CRD_PGO_PROFILE_DIR (scripts/pgo-build.sh sets both)")
    endif()
    # Absolute, because both trees and bench/pgo-train.sh (run from the source tree) must name the
    # same directory.
    if(NOT IS_ABSOLUTE "${CRD_PGO_PROFILE_DIR}")
        message(FATAL_ERROR "CRD_PGO_PROFILE_DIR must be an absolute path, not '${CRD_PGO_PROFILE_DIR}'")
    endif()
    # Counter files are named after each object's path below the build tree, not its absolute
    # path, so the instrumented tree and the optimised one may live in different directories.
    set(crd_pgo_prefix "-fprofile-prefix-path=${CMAKE_BINARY_DIR}")
    if(CRD_PGO STREQUAL "generate")
        # Atomic counters: the server's worker threads, the control thread and the audit writer
        # all run instrumented code at once.
        add_compile_options(-fprofile-generate=${CRD_PGO_PROFILE_DIR} -fprofile-update=atomic ${crd_pgo_prefix})
        add_link_options(-fprofile-generate=${CRD_PGO_PROFILE_DIR})
    elseif(CRD_PGO STREQUAL "use")
        file(GLOB_RECURSE crd_pgo_counters "${CRD_PGO_PROFILE_DIR}/*.gcda")
        if(NOT crd_pgo_counters)
            message(FATAL_ERROR "CRD_PGO=use: no profile (*.gcda) in ${CRD_PGO_PROFILE_DIR}; run scripts/pgo-build.sh")
        endif()
        # -fprofile-partial-training: functions the training never entered (TLS, reload, most
        # refusals) are optimised as in a plain Release build, not for size as never executed.
        # (Within a function that did run, a branch never taken is still laid out as cold.)
        # -Werror=missing-profile: a server object without counters (a renamed tree, a profile of
        # other sources) is an error, not a build that quietly falls back to no profile. Code the
        # training never links (tests, tools) says so with crd_pgo_untrained_code().
        add_compile_options(-fprofile-use=${CRD_PGO_PROFILE_DIR} -fprofile-partial-training ${crd_pgo_prefix} -Werror=missing-profile)
    else()
        message(FATAL_ERROR "CRD_PGO is empty, generate or use, not '${CRD_PGO}'")
    endif()
    message(STATUS "Profile-guided optimisation: ${CRD_PGO} (${CRD_PGO_PROFILE_DIR})")
endif()

# Called by the folders whose code is not part of crd-server (tests/, bench/, testing/): the
# training run writes no counters for it, and in a CRD_PGO=use tree that is expected.
macro(crd_pgo_untrained_code)
    if(CRD_PGO STREQUAL "use")
        add_compile_options(-Wno-missing-profile)
    endif()
endmacro()
