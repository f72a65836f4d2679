#pragma once
// A payer's decision service in miniature, for the fakes in tests and bench: it answers both
// protocols crd-server speaks (docs/decision-api.yaml). A compact DecisionsRequest
// ("protocol": "crd-decisions/1") gets one decision per order from a small table of codes; any
// other request gets the CDS Hooks answer the caller scripted.

#include <crd/testing/fake_http_service.hpp>

#include <string>

namespace crd::testing {

// The DecisionsResponse to a DecisionsRequest body: for each order, by its codes,
//   E0250 (bed), E0424/E0431 (oxygen)     covered, auth-needed, clinical documentation with the PA,
//                                         a reason, a Questionnaire, a link to the PA portal;
//   97110 (therapeutic exercise)          conditional on the performer (info_needed performer);
//   anything else                         covered, no-auth.
// An empty string when the body is not a DecisionsRequest.
std::string decisions_for(const std::string& request_body);

// decisions_for(request) when it is a DecisionsRequest, otherwise 200 with `cds_hooks_body`.
http_answer answer_either_protocol(const received_request& request, const std::string& cds_hooks_body);

}  // namespace crd::testing
