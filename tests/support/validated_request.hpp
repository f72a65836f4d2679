// A published request body made into the hook_request a handler receives, for tests that start at
// the handler: validated by its service's rules, the test stopped if they refuse it.
#pragma once

#include "fixtures.hpp"

#include <crd/core/hook_request.hpp>
#include <crd/core/hooks.hpp>

#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>
#include <utility>

namespace crd::test {

inline core::hook_request validated(boost::json::value doc)
{
    const auto* service = core::find_service(service_id_for(doc));
    BOOST_TEST_REQUIRE(service != nullptr);
    auto result = core::validate_hook_request(*service, std::make_unique<boost::json::value>(std::move(doc)));
    BOOST_TEST_REQUIRE(result.has_value());
    return std::move(result).value();
}

}  // namespace crd::test
