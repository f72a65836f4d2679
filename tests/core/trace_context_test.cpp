// W3C Trace Context: what is taken from a caller, what is refused, and what crd-server sends on.

#include <crd/core/trace_context.hpp>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <ostream>
#include <set>
#include <string>

using namespace crd::core;
namespace bdata = boost::unit_test::data;

namespace {

// The spec's own example (§3.2.2.6).
const std::string example = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

}  // namespace

BOOST_AUTO_TEST_SUITE(trace_context_)

BOOST_AUTO_TEST_CASE(a_version_00_traceparent_is_read_and_written_back_unchanged)
{
    const auto t = parse_traceparent(example);
    BOOST_TEST_REQUIRE(t.has_value());
    BOOST_TEST(t->trace_id_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
    BOOST_TEST(t->span_id_hex() == "00f067aa0ba902b7");
    BOOST_TEST(t->sampled());
    BOOST_TEST(t->traceparent() == example);

    const auto unsampled = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    BOOST_TEST_REQUIRE(unsampled.has_value());
    BOOST_TEST(!unsampled->sampled());
}

BOOST_AUTO_TEST_CASE(flags_other_than_sampled_are_not_passed_on)
{
    const auto t = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff");
    BOOST_TEST_REQUIRE(t.has_value());
    BOOST_TEST(t->traceparent().substr(53) == "01");
}

const char* const malformed_traceparents[] = {
    "", "00",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      // no flags
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    // short flags
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // version 00 has nothing after the flags
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper-case hex
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
    "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // all-zero parent id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff is invalid
    "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // wrong separators
    "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
    "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  // not hex
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
    " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // leading space shifts every field
    "00-4bf92f3577b34da6a3ce929d0e0e47366-0f067aa0ba902b7-01",   // field lengths moved
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Injected: 1",
    "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what",  // a later version still needs "-" or the end after the flags
    "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",          // and at least 55 characters
};

BOOST_DATA_TEST_CASE(a_malformed_traceparent_is_refused, bdata::make(malformed_traceparents), header)
{
    BOOST_TEST(!parse_traceparent(header).has_value());
}

BOOST_AUTO_TEST_CASE(a_later_version_is_read_by_its_version_00_fields)
{
    // §3.2.4: a version we do not know is read in the version 00 layout; what follows is ignored,
    // and what crd-server sends on is version 00.
    const auto t = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like");
    BOOST_TEST_REQUIRE(t.has_value());
    BOOST_TEST(t->traceparent() == example);
    BOOST_TEST(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").has_value());
}

BOOST_AUTO_TEST_CASE(tracestate_members_are_kept_in_order_without_empty_ones)
{
    BOOST_TEST(parse_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").value() == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    BOOST_TEST(parse_tracestate(" rojo=1 ,, \tcongo=2 ").value() == "rojo=1,congo=2");
    BOOST_TEST(parse_tracestate("fw529a3039@dt=ZmZmZmZm,a*b/c_d-e=va lue").value() == "fw529a3039@dt=ZmZmZmZm,a*b/c_d-e=va lue");
    BOOST_TEST(parse_tracestate("").value().empty());
    // Blanks around a member are optional whitespace, not part of its value.
    BOOST_TEST(parse_tracestate("rojo=ends in a space ").value() == "rojo=ends in a space");
}

const char* const malformed_tracestates[] = {
    "rojo",              // no "="
    "Rojo=1",            // keys are lower-case
    "1abc=1",            // a simple key starts with a letter
    "rojo=",             // empty value
    "rojo=a,b",          // "b" is no member
    "rojo=1,rojo=2",     // duplicate key
    "rojo=a=b",          // "=" in a value
    "rojo=\x01",         // control character
    "rojo=caf\xc3\xa9",  // non-ASCII
    "tenant@=1",         // empty system id
    "@system=1",         // empty tenant id
    "tenant@Sys=1",      // upper-case system id
};

BOOST_DATA_TEST_CASE(a_malformed_tracestate_is_dropped_whole, bdata::make(malformed_tracestates), header)
{
    BOOST_TEST(!parse_tracestate(header).has_value());
}

BOOST_AUTO_TEST_CASE(tracestate_over_32_members_or_512_characters_is_dropped)
{
    std::string members;
    for (int i = 0; i < 32; ++i)
        members += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v";
    BOOST_TEST(parse_tracestate(members).has_value());
    BOOST_TEST(!parse_tracestate(members + ",k32=v").has_value());

    const std::string long_value = "k=" + std::string(max_tracestate_bytes - 2, 'v');
    BOOST_TEST(!parse_tracestate(long_value).has_value());  // also over the 256-character value limit
    std::string long_list;
    for (int i = 0; long_list.size() <= max_tracestate_bytes; ++i)
        long_list += (i ? "," : "") + std::string("k") + std::to_string(i) + "=" + std::string(40, 'v');
    BOOST_TEST(!parse_tracestate(long_list).has_value());
}

BOOST_AUTO_TEST_CASE(crd_server_is_a_child_span_of_the_callers)
{
    const auto span = server_span(example, 1, "rojo=00f067aa0ba902b7");
    BOOST_TEST(span.trace_id_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
    BOOST_TEST(span.span_id_hex() != "00f067aa0ba902b7");
    BOOST_TEST(span.valid());
    BOOST_TEST(span.sampled());
    BOOST_TEST(span.tracestate == "rojo=00f067aa0ba902b7");

    const auto call = child_span(span);
    BOOST_TEST(call.trace_id_hex() == span.trace_id_hex());
    BOOST_TEST(call.span_id_hex() != span.span_id_hex());
    BOOST_TEST(call.tracestate == span.tracestate);
    BOOST_TEST(call.traceparent().size() == 55U);
}

BOOST_AUTO_TEST_CASE(a_bad_traceparent_starts_a_new_trace_and_takes_no_tracestate)
{
    for (const std::string bad : {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "garbage\r\nX-Evil: 1", ""})
    {
        const auto span = server_span(bad, bad.empty() ? 0 : 1, "rojo=1");
        BOOST_TEST(span.valid());
        BOOST_TEST(span.trace_id_hex() != "4bf92f3577b34da6a3ce929d0e0e4736");
        BOOST_TEST(span.tracestate.empty());  // read only with a valid traceparent (§3.3.1.1)
        BOOST_TEST(span.traceparent().find("garbage") == std::string::npos);
    }
    // Two traceparent lines are invalid even when the first is fine (§3.2.1).
    const auto twice = server_span(example, 2, "");
    BOOST_TEST(twice.trace_id_hex() != "4bf92f3577b34da6a3ce929d0e0e4736");
}

BOOST_AUTO_TEST_CASE(a_bad_tracestate_is_dropped_but_the_trace_is_kept)
{
    const auto span = server_span(example, 1, "rojo=1,rojo=2");
    BOOST_TEST(span.trace_id_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
    BOOST_TEST(span.tracestate.empty());
}

BOOST_AUTO_TEST_CASE(new_traces_are_random_valid_and_sampled)
{
    std::set<std::string> traces;
    for (int i = 0; i < 100; ++i)
    {
        const auto t = start_trace();
        BOOST_TEST(t.valid());
        BOOST_TEST(t.sampled());
        BOOST_TEST(parse_traceparent(t.traceparent()).has_value());
        traces.insert(t.trace_id_hex());
    }
    BOOST_TEST(traces.size() == 100U);
    BOOST_TEST(!trace_context{}.valid());
}

BOOST_AUTO_TEST_SUITE_END()
