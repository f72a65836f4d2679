#pragma once
// The Da Vinci CRD versions this server answers in, and how a call picks one (CRD 2.2.1
// deviations.md, "CRD Version declaration"): discovery lists the versions of each service in
// extension."davinci-crd.version"; a call names the one it wants in its root
// extension."davinci-crd.requestedVersion". Both use the first two nodes of the IG's version
// ("2.2", not "2.2.1"): patch releases never change what goes over the wire.

#include <crd/core/error.hpp>

#include <boost/json/fwd.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace crd::core {

// Ordered oldest first: comparisons mean "newer than".
enum class crd_version : std::uint8_t
{
    v2_0,  // STU 2.0.1: the product documents, Inferno's crd_server_v201 suite, most deployed EHRs
    v2_1,  // 2.1.0
    v2_2,  // 2.2.1: Inferno's crd_server_v221 suite
    count_
};

inline constexpr std::array<crd_version, 3> served_crd_versions{crd_version::v2_0, crd_version::v2_1, crd_version::v2_2};

// A call without extension."davinci-crd.requestedVersion" is answered as STU 2.0.1, so the
// clients deployed before versions could be asked for keep getting what they always got.
inline constexpr crd_version default_crd_version = crd_version::v2_0;

// "2.0", "2.1", "2.2": as discovery lists them and the audit record and metrics name them.
std::string_view to_string(crd_version v) noexcept;

// The version to answer a requestedVersion in. The value is "major.minor" with an optional
// ".patch" (tolerated: some clients send "2.2.1"). A version the server serves is answered in
// itself; a newer one than any served (e.g. "2.3", "3.0") in the newest served below it, since CRD
// keeps older renderings valid for newer clients far more often than the reverse; an older one
// than any served (e.g. "1.0") is a 400 naming the versions served. Not a string, or not a
// version: a 400 naming the field.
result<crd_version, error> negotiate_crd_version(const boost::json::value& requested);

}  // namespace crd::core
