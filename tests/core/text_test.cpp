#include <crd/core/json_document.hpp>
#include <crd/core/text.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

using namespace crd::core;

BOOST_AUTO_TEST_SUITE(text_)

BOOST_AUTO_TEST_CASE(case_folding_is_ascii_only)
{
    BOOST_TEST(iequals("Bearer", "bEARER"));
    BOOST_TEST(!iequals("Bearer", "Bearer "));
    BOOST_TEST(!iequals("\xc3\x89", "\xc3\xa9"));  // no locale: É and é differ
    BOOST_TEST(to_lower("X-Client-Id") == "x-client-id");
}

BOOST_AUTO_TEST_CASE(field_values_and_framing_fields_for_hand_written_heads)
{
    BOOST_TEST(is_safe_field_value("Origin, Accept-Encoding"));
    BOOST_TEST(is_safe_field_value("a\tb"));  // HTAB is field-value text (RFC 9110 §5.5)
    BOOST_TEST(is_safe_field_value(""));
    BOOST_TEST(!is_safe_field_value("x\r\nSet-Cookie: y"));
    BOOST_TEST(!is_safe_field_value(std::string_view("x\0y", 3)));
    BOOST_TEST(!is_safe_field_value("x\x7Fy"));
    BOOST_TEST(is_framing_field("content-LENGTH"));
    BOOST_TEST(is_framing_field("Transfer-Encoding"));
    BOOST_TEST(is_framing_field("connection"));
    BOOST_TEST(!is_framing_field("Content-Type"));
    BOOST_TEST(!is_framing_field("Connections"));
}

// is_safe_field_value reads sixteen bytes at a time: every byte value, at every place in values
// of every length up to three blocks, gives what the byte-by-byte rule gives.
BOOST_AUTO_TEST_CASE(every_byte_is_judged_alike_wherever_it_lies_in_a_value)
{
    const auto refused = [](unsigned char b) { return (b < 0x20 && b != '\t') || b == 0x7F; };
    for (std::size_t length = 1; length <= 48; ++length)
        for (std::size_t at = 0; at < length; ++at)
            for (unsigned b = 0; b < 256; ++b)
            {
                std::string value(length, 'v');
                value[at] = static_cast<char>(b);
                if (is_safe_field_value(value) == refused(static_cast<unsigned char>(b)))
                {
                    BOOST_TEST_REQUIRE(false, "byte " << b << " at " << at << " of " << length);
                }
            }
    BOOST_TEST(is_safe_field_value(std::string(40, '\t') + "\x80\xff obs-text"));
}

BOOST_AUTO_TEST_CASE(timestamps_are_utc_with_milliseconds)
{
    const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'796'186'267'042));
    BOOST_TEST(utc_timestamp(t) == "2026-12-02T04:37:47.042Z");
}

BOOST_AUTO_TEST_CASE(json_files_are_read_strictly)
{
    const auto dir = std::filesystem::temp_directory_path();
    const auto path = (dir / ("crd-text-test-" + std::to_string(::getpid()) + ".json")).string();
    auto message_of = [&](const std::string& text) -> std::string {
        std::ofstream(path) << text;
        try
        {
            (void)read_json_file(path, "rules");
        }
        catch (const json_file_error& e)
        {
            return e.what();
        }
        return {};
    };
    BOOST_TEST(message_of(R"({"a": 1})").empty());
    BOOST_TEST(message_of(R"({"a": 1, "a": 2})").find("'a' appears twice") != std::string::npos);
    BOOST_TEST(message_of(R"({"a": 1e400})").find("not valid JSON") != std::string::npos);
    BOOST_TEST(message_of(R"({"a": )").find("rules file") != std::string::npos);
    std::filesystem::remove(path);
    try
    {
        (void)read_json_file(path, "rules");
        BOOST_FAIL("a missing file was read");
    }
    catch (const json_file_error& e)
    {
        BOOST_TEST(std::string(e.what()).find("cannot read rules file") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
