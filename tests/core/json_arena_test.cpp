// core::json_arena: the bump allocator documents and answers live in.
#include <crd/core/json_arena.hpp>
#include <crd/core/hook.hpp>
#include <crd/core/json_document.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace json = boost::json;
using crd::core::json_arena;

BOOST_AUTO_TEST_SUITE(json_arena_)

BOOST_AUTO_TEST_CASE(every_allocation_is_aligned_and_none_overlaps_across_blocks)
{
    json_arena arena(1024);
    json::memory_resource& resource = arena;
    struct piece
    {
        unsigned char* at;
        std::size_t size;
        unsigned char fill;
    };
    std::vector<piece> pieces;
    // Sizes and alignments that leave odd gaps, well past the first block and several more.
    for (std::size_t i = 0; i < 3000; ++i)
    {
        const std::size_t align = std::size_t{1} << (i % 5);  // 1 .. 16
        const std::size_t size = 1 + (i * 37) % 301;
        auto* p = static_cast<unsigned char*>(resource.allocate(size, align));
        BOOST_TEST_REQUIRE(reinterpret_cast<std::uintptr_t>(p) % align == 0U);
        const auto fill = static_cast<unsigned char>(i);
        std::memset(p, fill, size);
        pieces.push_back({p, size, fill});
    }
    // Nothing written later landed on anything written earlier.
    for (const auto& p : pieces)
        for (std::size_t b = 0; b < p.size; ++b)
            BOOST_TEST_REQUIRE(p.at[b] == p.fill);
    BOOST_TEST(arena.reserved_bytes() >= 3000U);
}

BOOST_AUTO_TEST_CASE(an_allocation_larger_than_any_block_gets_a_block_of_its_own)
{
    json_arena arena(1024);
    json::memory_resource& resource = arena;
    void* small = resource.allocate(10, 8);
    const std::size_t big = 1 << 20;
    auto* p = static_cast<unsigned char*>(resource.allocate(big, 16));
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(p) % 16 == 0U);
    std::memset(p, 0xAB, big);
    BOOST_TEST(p[big - 1] == 0xAB);
    BOOST_TEST(arena.reserved_bytes() >= big + 1024);
    // The earlier block is still in use.
    std::memset(small, 1, 10);
    // An alignment above the blocks' own (a resource may be asked for it) is honoured.
    void* wide = resource.allocate(100, 64);
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(wide) % 64 == 0U);
}

BOOST_AUTO_TEST_CASE(a_document_built_in_the_arena_is_the_document_and_marks_deallocation_trivial)
{
    std::string text = R"({"resourceType": "Bundle", "entry": [)";
    for (int i = 0; i < 200; ++i)
        text += std::string(i ? "," : "") + R"({"resource": {"resourceType": "ServiceRequest", "id": "order-number-)" + std::to_string(i) +
                R"(", "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "97110"}]}, "quantity": 1.5}})";
    text += "]}";
    json_arena arena(256);
    const json::storage_ptr sp(&arena);
    BOOST_TEST(sp.is_deallocate_trivial());
    boost::system::error_code ec;
    const json::value in_arena = crd::core::parse_json(text, ec, crd::core::max_json_depth, sp);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(in_arena == json::parse(text));
    BOOST_TEST(crd::core::serialize_json(in_arena) == json::serialize(json::parse(text)));
    BOOST_TEST(arena.reserved_bytes() > text.size() / 2);
}

BOOST_AUTO_TEST_CASE(parse_document_keeps_its_tree_in_an_arena_freed_with_it)
{
    boost::system::error_code ec;
    auto doc = crd::core::parse_document(
        R"({"hook": "order-sign", "context": {"patientId": "a-patient-identifier-longer-than-inline"}})", crd::core::max_json_depth, ec);
    BOOST_TEST_REQUIRE(doc != nullptr);
    BOOST_TEST(doc->storage().is_deallocate_trivial());
    BOOST_TEST(doc->at("context").at("patientId").as_string() == "a-patient-identifier-longer-than-inline");
}

BOOST_AUTO_TEST_CASE(a_zero_byte_allocation_is_a_distinct_address_even_in_a_fresh_arena)
{
    json_arena arena(1024);
    json::memory_resource& resource = arena;
    void* first = resource.allocate(0, 1);
    void* second = resource.allocate(0, 1);
    BOOST_TEST(first != nullptr);
    BOOST_TEST(second != nullptr);
    BOOST_TEST(first != second);
}

BOOST_AUTO_TEST_CASE(an_allocation_beyond_any_block_size_is_refused_not_wrapped)
{
    // The block size for such a request would overflow: bad_alloc, and nothing reserved.
    json_arena arena(static_cast<std::size_t>(-1));  // clamped before it is rounded to a power of two
    json::memory_resource& resource = arena;
    BOOST_CHECK_THROW(resource.allocate(static_cast<std::size_t>(-1) / 2, 16), std::bad_alloc);
    BOOST_TEST(arena.reserved_bytes() == 0U);
}

BOOST_AUTO_TEST_CASE(an_arena_is_equal_only_to_itself)
{
    json_arena a(1024);
    json_arena b(1024);
    const json::memory_resource& ra = a;
    BOOST_TEST(ra.is_equal(a));
    BOOST_TEST(!ra.is_equal(b));
}

BOOST_AUTO_TEST_SUITE_END()

// An answer whose body lives in the arena of a document it keeps (api_response: the request's, the
// decision service's) may be assigned over another such answer: the old body goes before the arena
// it lives in, and the new one keeps its own.
BOOST_AUTO_TEST_SUITE(api_response_)

namespace {

crd::core::api_response answer_in_its_document(const std::string& text)
{
    boost::system::error_code ec;
    auto document = crd::core::parse_document(text, crd::core::max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    boost::json::value body(std::move(*document));  // move construction keeps the arena
    return {200, nullptr, std::move(document), std::move(body)};
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_assigned_over_another_frees_the_old_body_before_its_arena_and_keeps_the_new_one_in_its_own)
{
    const std::string second_text = R"({"cards":[{"summary":"the second answer, long enough not to be inline","indicator":"warning"}]})";
    auto first = answer_in_its_document(R"({"cards":[{"summary":"the first answer, long enough not to be inline","indicator":"info"}]})");
    auto second = answer_in_its_document(second_text);
    const auto* second_arena = second.body.storage().get();
    const auto* second_cards = &second.body.at("cards");
    first = std::move(second);  // member by member: the first arena went while its body still lived in it (ASan: use after free)
    BOOST_TEST(boost::json::serialize(first.body) == second_text);
    BOOST_TEST((first.body.storage().get() == second_arena));  // not copied into another memory resource
    BOOST_TEST((&first.body.at("cards") == second_cards));
    first = crd::core::api_response{};
    BOOST_TEST(first.body.is_null());
    auto& self = first;
    first = std::move(self);
    BOOST_TEST(first.status == 200U);
}

BOOST_AUTO_TEST_SUITE_END()
