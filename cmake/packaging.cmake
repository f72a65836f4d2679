# The Debian package: `cpack -G DEB` in a build tree configured with -DCMAKE_INSTALL_PREFIX=/usr
# makes crd-server_<version>-<revision>_<arch>.deb (docs/operations.md, "The Debian package").
# tests/package/package_test.sh builds it, runs lintian on it and installs it into a throw-away root.
#
# What the package adds to `cmake --install` (which installs the binary, the unit, the example
# configuration and the sample rules): the man page, logrotate for the audit log, and the Debian
# copyright and changelog files. Maintainer scripts (cmake/debian/) enable and start the unit as
# debhelper would, and do nothing to systemd where it is not running.

set(CRD_DEB_REVISION 1 CACHE STRING "Debian revision of the package (the -N after the version)")
set(CRD_DEB_VERSION "${PROJECT_VERSION}-${CRD_DEB_REVISION}")
set(CRD_DEB_MAINTAINER "crd-server maintainers <maintainers@users.noreply.h-seed-45025558.example>")
set(crd_packaging_dir "${PROJECT_BINARY_DIR}/packaging")

# Compressed at configure time with -n (no name or timestamp) so the package is reproducible.
find_program(CRD_GZIP gzip REQUIRED)
function(crd_gzip_file source destination)
    configure_file("${source}" "${destination}.plain" @ONLY)
    execute_process(COMMAND "${CRD_GZIP}" -9nc "${destination}.plain" OUTPUT_FILE "${destination}" COMMAND_ERROR_IS_FATAL ANY)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${source}")
endfunction()

set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CRD_DEB_MAINTAINER}")
crd_gzip_file("${PROJECT_SOURCE_DIR}/etc/man/crd-server.8" "${crd_packaging_dir}/crd-server.8.gz")
crd_gzip_file("${PROJECT_SOURCE_DIR}/cmake/debian/changelog.in" "${crd_packaging_dir}/changelog.Debian.gz")

install(FILES "${crd_packaging_dir}/crd-server.8.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man8")
install(FILES "${crd_packaging_dir}/changelog.Debian.gz" "${PROJECT_SOURCE_DIR}/cmake/debian/copyright"
    DESTINATION "${CMAKE_INSTALL_DOCDIR}")
install(FILES "${PROJECT_SOURCE_DIR}/etc/logrotate.d/crd-server" DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d")

# Every file under /etc is a conffile: dpkg keeps the operator's edits on upgrade.
set(CRD_DEB_CONFFILES "${CMAKE_INSTALL_FULL_SYSCONFDIR}/crd-server/crd-server.json"
    "${CMAKE_INSTALL_FULL_SYSCONFDIR}/crd-server/rules.json" "${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d/crd-server")
list(JOIN CRD_DEB_CONFFILES "\n" crd_conffiles_text)
file(WRITE "${crd_packaging_dir}/conffiles" "${crd_conffiles_text}\n")

set(CPACK_PACKAGE_NAME crd-server)
set(CPACK_PACKAGE_VENDOR "crd-server maintainers")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Da Vinci CRD payer CDS Hooks server")
set(CPACK_PACKAGE_CONTACT "${CRD_DEB_MAINTAINER}")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # crd-server_<version>-<revision>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE "${CRD_DEB_REVISION}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://build.fhir.org/ig/HL7/davinci-crd/")
# The extended description; CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY before it as the synopsis.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "crd-server answers HL7 Da Vinci Coverage Requirements Discovery (CRD) CDS
Hooks calls for a payer: discovery, the order, appointment and encounter
hooks, feedback and SMART Backend Services tokens. Determinations come from
an embedded rules engine or from the payer's decision service. It runs as a
hardened systemd service with Prometheus metrics and an audit log.")
# Library dependencies as dpkg-shlibdeps computes them from the binary (libssl3, libc6, libstdc++6, ...).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "logrotate")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${crd_packaging_dir}/conffiles" "${PROJECT_SOURCE_DIR}/cmake/debian/postinst"
    "${PROJECT_SOURCE_DIR}/cmake/debian/prerm" "${PROJECT_SOURCE_DIR}/cmake/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
