#pragma once
// crd-server configuration: one JSON file, strictly validated. An unknown key or a value of the
// wrong type is a start-up error whose message names the key (e.g. "limits.max_body_bytes").

#include <crd/core/url.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace crd::core {

using milliseconds = std::chrono::milliseconds;

// Thrown by the loaders; what() names the offending key.
class config_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

struct listen_config
{
    std::string address = "127.0.0.1";
    std::uint16_t port = 8080;  // 0 picks an ephemeral port (tests)
    unsigned threads = 0;       // 0: one per core
};

// The operators' listener: /metrics, a detailed /ready and /health. Kept off the public port, where
// auth-failure counters by reason and upstream origins would tell a prober about the payer.
struct admin_config
{
    bool enabled = true;
    std::string address = "127.0.0.1";
    // Absent: the public port + 1 (8081 next to 8080), or an ephemeral one when listen.port is 0.
    std::optional<std::uint16_t> port;
};

struct limits_config
{
    std::size_t max_body_bytes = 1024 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    milliseconds header_timeout{10'000};  // from the first byte of a request to the end of its header
    milliseconds body_timeout{30'000};    // to receive the body once the header is in
    milliseconds idle_timeout{60'000};    // a keep-alive connection waiting for its next request
    milliseconds write_timeout{30'000};   // to send a response
    unsigned max_connections = 10'000;
    unsigned max_in_flight = 4'096;
    std::size_t max_orders = 1'000;      // orders or appointments in one hook call (413 beyond)
    std::size_t max_selections = 1'000;  // order-select selections in one call (413 beyond)
    milliseconds shutdown_grace{10'000};
    // On SIGTERM, how long /ready answers 503 while calls are still served, before the listener
    // closes: a load balancer's health checks see the instance leave first (fall x inter).
    milliseconds drain_delay{0};
};

enum class failure_policy
{
    error,        // CRD: report the failure as 4xx/5xx with an OperationOutcome
    conditional,  // Payerbox-compatible: 200 with "coverage could not be determined"
    // Payerbox-compatible: a decision service's 4xx/5xx answer whose body is a FHIR OperationOutcome
    // is passed through (that status, that OperationOutcome re-serialised, none of its headers);
    // any other failure is answered as under `error`. CRD 2.1+ callers still get the technical
    // determination for failures of the service's own (5xx, 401/403/407/408/429): only a refusal of
    // their request (another 4xx) reaches them relayed.
    relay,
};

// What the decision service speaks (docs/decision-api.yaml).
enum class decision_protocol
{
    cds_hooks,  // the CDS Hooks request as sent, a CDS Hooks response back (normalised, re-rendered per version)
    decisions,  // a compact summary of the call, one decision per order back (Payerbox's "custom response")
};

struct header_config
{
    std::string name;
    std::string value;  // from "value", or read from the environment variable "value_env"
};

struct decision_service_override
{
    std::optional<url> endpoint;
    std::optional<milliseconds> timeout;
    std::optional<decision_protocol> protocol;
};

struct decision_config
{
    std::optional<url> endpoint;  // absent: the embedded rules engine decides
    // Applies to every service when set; otherwise each service's own default (4 s, 9 s for
    // appointment-book), which leaves room inside CRD's 5 s / 10 s targets.
    std::optional<milliseconds> timeout;
    failure_policy on_failure = failure_policy::error;
    decision_protocol protocol = decision_protocol::cds_hooks;
    // decisions protocol: also send the request's prefetch (the service then reads FHIR itself).
    bool send_prefetch = false;
    std::string rules_path;        // rules file of the embedded engine
    unsigned pool_size = 16;       // connections per origin and server thread
    unsigned max_pending = 256;    // callers waiting for a connection before new ones fail fast
    milliseconds idle_ttl{4'000};  // below the upstream's keep-alive timeout
    milliseconds resolve_interval{60'000};
    unsigned breaker_failures = 5;                                 // consecutive failures that open the circuit breaker
    milliseconds breaker_cooldown{5'000};                          // how long it stays open before one probe
    std::string source_label = "Coverage Requirements Discovery";  // label of cards crd-server writes itself
    std::size_t max_response_bytes = 4 * 1024 * 1024;
    bool forward_fhir_authorization = false;
    std::vector<header_config> headers;
    // Request headers of the caller passed on to the decision service (lower-case names), e.g.
    // the required x-client-id.
    std::vector<std::string> forward_headers;
    std::optional<std::string> ca_file;
    std::optional<url> feedback_endpoint;
    std::map<std::string, decision_service_override, std::less<>> services;  // per service id
};

struct auth_client
{
    std::string client_id;
    std::optional<boost::json::object> jwks;  // inline JWK Set
    std::optional<url> jwks_url;
    std::vector<std::string> jku_allowlist;
    std::string scope;
    std::optional<std::string> secret_hash;
    std::optional<unsigned> max_token_lifetime_s;  // this client's own limit; else auth.max_token_lifetime_s
};

// auth.replay_cache: where client token ids (iss + jti) are claimed. Absent: in this process only,
// which is right for one instance; several instances behind a balancer share one Redis.
enum class replay_unavailable_policy
{
    fail_closed,  // 503 with Retry-After, /ready 503, until Redis answers again
    local,        // fall back to this process's own cache (replays across instances possible meanwhile)
};

struct replay_cache_config
{
    std::string host;  // from "redis": redis://host:port/db
    std::uint16_t port = 6379;
    unsigned db = 0;
    std::string prefix = "crd:jti:";
    milliseconds timeout{200};  // per claim, inside the request's own deadline
    replay_unavailable_policy on_unavailable = replay_unavailable_policy::fail_closed;
    std::optional<std::string> password;  // read from the environment variable "password_env"
};

struct auth_config
{
    bool required = true;
    std::vector<auth_client> clients;
    // What deployed EHRs send: Epic's CDS Hooks client JWTs live 15 minutes (exp - iat = 900).
    unsigned max_token_lifetime_s = 900;
    unsigned clock_leeway_s = 60;
    std::vector<std::string> allowed_algs{"ES384", "RS384"};
    std::optional<std::string> signing_key;
    bool allow_basic = false;
    // Discovery holds no patient data, and Inferno's CRD suites and the product documents call it
    // without a token: open unless a payer asks otherwise.
    bool protect_discovery = false;
    // true: every 401 says only that a valid token is required (today's generic text); false: the
    // reason, from the server's own words (never the token's contents).
    bool terse_errors = false;
    milliseconds jwks_refresh{30'000};                // how often registered JWKS URLs are fetched again
    std::optional<replay_cache_config> replay_cache;  // absent: the in-process cache
};

struct audit_config
{
    std::optional<std::string> path;  // absent: no audit file (logged as a warning at start-up)
    milliseconds fsync_interval{1'000};
    bool required = false;
    std::size_t queue_size = 10'000;
};

struct prefetch_config
{
    bool allow_http = false;
    unsigned max_concurrency = 8;
    double deadline_share = 0.5;  // share of the request deadline prefetch may spend
    std::size_t max_response_bytes = 4 * 1024 * 1024;
    // FHIR servers prefetch may call, as origins ("https://ehr.example.org:8443"), compared
    // canonically. Absent: any fhirServer a caller names (a server-side request forgery risk on a
    // public listener: list your EHRs). Calls naming another origin are answered from what they sent.
    std::optional<std::vector<std::string>> allowed_origins;
    // Prefetch keys without which no determination is possible: when one is missing and there is
    // no FHIR access to fetch it, the call is answered 412. Absent: required_prefetch_keys() below.
    std::optional<std::vector<std::string>> required_keys;
};

// Headers every hook and feedback call must carry (Payerbox's CDS_REQUIRED_HEADERS), e.g. the
// x-client-id gateways and payers route and bill by. Lower-case names.
struct requests_config
{
    std::vector<std::string> required_headers;
};

struct tls_config
{
    std::optional<std::string> certificate;
    std::optional<std::string> private_key;
};

enum class log_level
{
    debug,
    info,
    warning,
    error,
};

struct config
{
    listen_config listen;
    admin_config admin;
    std::string public_base_url;  // no trailing slash
    limits_config limits;
    decision_config decision;
    auth_config auth;
    audit_config audit;
    std::optional<std::vector<std::string>> enabled_services;  // absent: every service
    std::vector<std::string> cors_allowed_origins{"*"};
    prefetch_config prefetch;
    requests_config requests;
    tls_config tls;
    log_level level = log_level::info;
};

// Reads the process environment; a function so tests can supply their own.
using env_lookup = std::function<std::optional<std::string>(const char*)>;
env_lookup process_environment();

// Parses a configuration document. Relative paths resolve against base_dir. Environment
// overrides: CDS_DECISION_SERVICE_URL wins over decision.url, CDS_ENABLED_HOOKS (a comma list)
// over services.enabled. default_rules_path is used when decision.rules is absent.
config parse_config(const boost::json::value& doc, const std::string& base_dir, const env_lookup& env, const std::string& default_rules_path);

// Reads and parses a file; errors name the file and the key.
config load_config_file(const std::string& path, const env_lookup& env, const std::string& default_rules_path);

// The configuration used without --config: every default, plus the environment overrides.
config default_config(const env_lookup& env, const std::string& default_rules_path);

// Service ids this build knows; services.enabled may only name these.
const std::vector<std::string>& known_service_ids();

// prefetch.required_keys, or its default: {"coverage"} with the embedded rules engine (it finds
// the plan from the member's Coverage), none with a decision service, which can look the member up
// in the payer's own enrolment data (the product documents' example sends only the Patient).
std::vector<std::string> required_prefetch_keys(const config& cfg);

}  // namespace crd::core
