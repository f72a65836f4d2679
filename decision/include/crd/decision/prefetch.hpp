#pragma once
// Prefetch fulfilment (CDS Hooks 2.0 §prefetch, CRD 2.0.1 foundation): keys the EHR did not send
// (or sent as an OperationOutcome) are fetched from its FHIR server with the access token it gave
// us, in parallel, under bounded concurrency and inside a share of the request's deadline. The
// token goes only to the fhirServer origin: redirects are never followed.

#include <crd/core/config.hpp>
#include <crd/core/hook_request.hpp>

#include <crd/core/async.hpp>

#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace crd::decision {

// Resolves one prefetch template against a request's context: CDS Hooks 2.0 tokens
// ({{context.<primitive field>}}, {{userPractitionerId}}, {{userPractitionerRoleId}},
// {{userPatientId}}, {{userRelatedPersonId}}) and CRD's {{context.<key>.<Type>.id}} (comma-joined
// ids of that type in that Bundle or reference list). nullopt when a token has no value.
std::optional<std::string> resolve_template(std::string_view tmpl, const boost::json::object& context);

class prefetch_fulfiller
{
public:
    explicit prefetch_fulfiller(const core::config& cfg);
    ~prefetch_fulfiller();
    prefetch_fulfiller(const prefetch_fulfiller&) = delete;
    prefetch_fulfiller& operator=(const prefetch_fulfiller&) = delete;

    // Completes the request's prefetch from `templates` (the service's discovery prefetch) and,
    // for order-dispatch, the orders it references. Leaves the request unchanged when nothing is
    // missing, replaces it with the re-validated request with fetched keys merged, or returns a 412
    // error (prefetch_incomplete) when required data is missing and there is no FHIR access (the
    // request is then not to be used). Fetch failures are logged and counted, and leave the key
    // absent. Never throws for upstream failures. The request is the caller's, who awaits this: it
    // is worked on in place, not moved in and out (issue 19: each move of a hook_request is some
    // thirty members).
    net::awaitable<result<void, error>> complete(core::hook_request& request, const boost::json::object& templates, clock::time_point deadline);

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace crd::decision
