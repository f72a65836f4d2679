#pragma once
// Who is calling: CDS Hooks client JWTs on every call (mode A), access tokens from our own SMART
// Backend Services token endpoint (mode B), and optionally HTTP Basic for internal tools. Both
// token modes coexist; a token whose iss is our own issuer is a mode B access token.

#include <crd/auth/auth_failure.hpp>
#include <crd/auth/jose.hpp>
#include <crd/core/async.hpp>
#include <crd/auth/replay_guard.hpp>
#include <crd/core/config.hpp>
#include <crd/core/task_group.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace crd::auth {

struct identity
{
    std::string client_id;
    std::string jti;     // empty for Basic
    std::string tenant;  // CDS Hooks JWT "tenant", when given
};

struct rejection
{
    auth_failure reason = auth_failure::missing;  // the code: make_error_code(reason), crd.auth
    bool token_given = false;                     // for WWW-Authenticate: error="invalid_token"
    std::string detail;                           // for the log only: never the token, never the response body
    // For the caller (OperationOutcome diagnostics, WWW-Authenticate error_description): the
    // reason in the server's own words and values, never the token's contents or key material.
    std::string explanation;
};

// result<identity, rejection>::value() on a refusal is a programming error: it throws.
[[noreturn]] void throw_exception_from_error(const rejection& r, const boost::source_location& where);

// Who the caller is, or why it is refused (counted in crd_auth_failures_total by authenticate()).
using auth_result = result<identity, rejection>;

// An OAuth 2.0 token endpoint answer (RFC 6749 §5.1 / §5.2).
struct token_answer
{
    unsigned status = 200;
    boost::json::object body;
};

class authenticator
{
public:
    // Parses inline JWK Sets, loads auth.signing_key (or generates one, with a warning), resolves
    // the hosts of jwks_url and jku_allowlist entries. Throws std::runtime_error naming the key
    // at fault (e.g. "auth.clients[0].jwks: ...").
    // `replays` outlives configuration generations (the application's: in-process or Redis; null:
    // an in-process one of its own).
    explicit authenticator(const core::config& cfg, std::shared_ptr<replay_guard> replays = nullptr);
    ~authenticator();
    authenticator(const authenticator&) = delete;
    authenticator& operator=(const authenticator&) = delete;

    // Fetches registered JWKS URLs now and keeps them fresh, every `refresh` after that, as tasks
    // of `group`. The group's owner ends and joins them before this authenticator is destroyed
    // (a reload does, for the generation it replaces).
    void start_background(core::task_group& group, std::chrono::milliseconds refresh = std::chrono::seconds(30));

    // Verifies the Authorization header of a call to `path` (the JWT aud must be
    // public_base_url + path). Never throws.
    // `source` is the caller's address: slow checks (HTTP Basic's PBKDF2) are bounded per source
    // too, so one caller cannot take every slot; a refusal for that reason is auth_failure::busy.
    net::awaitable<auth_result> authenticate(std::string_view authorization, std::string_view path, std::string_view source = {});

    // GET /.well-known/smart-configuration
    boost::json::object smart_configuration() const;

    // POST /auth/token with a form body: client_credentials + private_key_jwt.
    net::awaitable<token_answer> token(std::string_view content_type, std::string_view body);

    std::string token_endpoint() const;

    struct impl;

private:
    // authenticate() without the counting.
    net::awaitable<auth_result> verify(std::string_view authorization, std::string_view path, std::string_view source);

    std::unique_ptr<impl> impl_;
};

// The authenticator in use; SIGHUP swaps in one built from the new client registrations, while
// calls already running finish with the one they loaded.
using authenticator_slot = std::atomic<std::shared_ptr<authenticator>>;

// A secret_hash for auth.clients[].secret_hash: PBKDF2-HMAC-SHA256, random salt, 210,000 rounds
// ("pbkdf2-sha256$rounds$salt$hash", base64). `crd-server --hash-secret` prints one.
std::string hash_secret(std::string_view secret);
bool secret_matches(std::string_view secret, std::string_view stored_hash);

}  // namespace crd::auth
