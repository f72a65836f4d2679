#pragma once
// A refusal as every check here builds it: the reason for metrics, a detail for the log, and the
// caller-facing explanation of the reason (explain(), in auth_failure.cpp).

#include <crd/auth/authenticator.hpp>

#include <string>

namespace crd::auth {

inline rejection refuse(auth_failure reason, std::string detail, bool token_given = true)
{
    return rejection{reason, token_given, std::move(detail), explain(reason)};
}

}  // namespace crd::auth
