#include <crd/decision/crd_configuration.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace json = boost::json;
using namespace crd::decision;

namespace {

const std::vector<std::string> types{"coverage-info", "claim"};

crd::result<crd_options, crd::error> read(const char* text)
{
    static json::value holder;
    holder = json::parse(text);
    return read_options(&holder.as_object(), types);
}

json::value card(const char* indicator, const char* topic, int n)
{
    return json::object{
        {"summary", "card " + std::to_string(n)},
        {"indicator", indicator},
        {"source", json::object{{"label", "P"}, {"topic", json::object{{"code", topic}}}}},
    };
}

json::object coverage_action()
{
    return json::object{{"type", "update"}, {"description", "d"},
        {"resource", json::object{{"resourceType", "ServiceRequest"},
                         {"extension", json::array{json::object{
                                           {"url", "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"}}}}}}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crd_configuration_)

BOOST_AUTO_TEST_CASE(absent_configuration_means_defaults)
{
    auto o = read_options(nullptr, types);
    BOOST_TEST_REQUIRE(o.has_value());
    BOOST_TEST(o.value().coverage_info);
    BOOST_TEST(o.value().max_cards == default_max_cards);
}

BOOST_AUTO_TEST_CASE(known_options_are_read_and_unknown_ones_ignored)
{
    auto o = read(R"({"coverage-info": false, "claim": false, "max-cards": 3, "alt-drug": true, "dtr-clin": 7})");
    BOOST_TEST_REQUIRE(o.has_value());
    const auto& opts = o.value();
    BOOST_TEST(!opts.coverage_info);
    BOOST_TEST(opts.max_cards == 3U);
    BOOST_TEST(opts.disabled_card_types.count("claim") == 1U);
    BOOST_TEST(opts.disabled_card_types.count("alt-drug") == 0U);
}

BOOST_AUTO_TEST_CASE(wrong_types_are_422_naming_the_option)
{
    for (const char* bad :
        {R"({"max-cards": "5"})", R"({"max-cards": -1})", R"({"max-cards": 1.5})", R"({"coverage-info": "no"})", R"({"claim": 0})"})
    {
        BOOST_TEST_CONTEXT(bad)
        {
            auto o = read(bad);
            BOOST_TEST_REQUIRE(o.has_error());
            const auto p = crd::core::to_problem(o.error());
            BOOST_TEST(p.status == 422U);
            BOOST_TEST(p.expression.rfind("extension.davinci-crd.configuration.", 0) == 0U);
        }
    }
}

BOOST_AUTO_TEST_CASE(max_cards_keeps_the_most_severe)
{
    json::object res{{"cards", json::array{card("info", "coverage-info", 1), card("warning", "coverage-info", 2), card("critical", "claim", 3),
                                   card("warning", "claim", 4)}}};
    crd_options o;
    o.max_cards = 2;
    apply_options(res, o);
    const auto& cards = res.at("cards").as_array();
    BOOST_TEST_REQUIRE(cards.size() == 2U);
    BOOST_TEST(cards[0].at("summary").as_string() == "card 3");
    BOOST_TEST(cards[1].at("summary").as_string() == "card 2");  // stable among warnings
}

BOOST_AUTO_TEST_CASE(cards_are_ordered_most_severe_first_and_stable_within_a_severity)
{
    json::object res{{"cards", json::array{card("info", "coverage-info", 1), card("warning", "coverage-info", 2), card("info", "claim", 3),
                                   card("critical", "claim", 4), card("warning", "claim", 5)}}};
    apply_options(res, crd_options{});  // max-cards 10: nothing dropped, only ordered
    std::vector<std::string> order;
    for (const auto& c : res.at("cards").as_array())
        order.emplace_back(c.at("summary").as_string());
    BOOST_TEST(order == (std::vector<std::string>{"card 4", "card 2", "card 5", "card 1", "card 3"}), boost::test_tools::per_element());

    json::object sorted{{"cards", json::array{card("critical", "claim", 1), card("warning", "claim", 2), card("info", "claim", 3)}}};
    crd_options few;
    few.max_cards = 2;
    apply_options(sorted, few);  // already in order: only the tail goes
    BOOST_TEST_REQUIRE(sorted.at("cards").as_array().size() == 2U);
    BOOST_TEST(sorted.at("cards").at(1).at("summary").as_string() == "card 2");
}

BOOST_AUTO_TEST_CASE(a_card_budget_leaves_out_only_cards_max_cards_would_drop)
{
    // Every sequence of up to 6 cards of the three severities, against every max-cards from 0 to 7:
    // building only the cards the budget admits must give apply_options' answer from all of them,
    // and the budget must leave out every card that cannot be kept.
    const char* indicators[] = {"critical", "warning", "info"};
    std::size_t sequences = 0;
    std::size_t left_out = 0;
    for (std::size_t length = 0; length <= 6; ++length)
    {
        std::size_t combinations = 1;
        for (std::size_t i = 0; i < length; ++i)
            combinations *= 3;
        for (std::size_t c = 0; c < combinations; ++c)
        {
            std::vector<const char*> sequence;
            for (std::size_t i = 0, rest = c; i < length; ++i, rest /= 3)
                sequence.push_back(indicators[rest % 3]);
            ++sequences;
            for (std::size_t max_cards = 0; max_cards <= 7; ++max_cards)
            {
                crd_options options;
                options.max_cards = max_cards;
                json::array all;
                json::array admitted;
                card_budget budget(max_cards);
                for (std::size_t i = 0; i < sequence.size(); ++i)
                {
                    all.push_back(card(sequence[i], "coverage-info", static_cast<int>(i)));
                    if (budget.admits(sequence[i]))
                    {
                        admitted.push_back(card(sequence[i], "coverage-info", static_cast<int>(i)));
                        budget.add(sequence[i]);
                    }
                }
                json::object from_all{{"cards", all}};
                json::object from_admitted{{"cards", admitted}};
                apply_options(from_all, options);
                apply_options(from_admitted, options);
                BOOST_TEST_CONTEXT(sequence.size() << " cards, sequence " << c << ", max-cards " << max_cards)
                {
                    BOOST_TEST(from_admitted == from_all);
                    // At most max-cards cards of each severity are built: a card is admitted only
                    // while fewer than max-cards as severe or more severe were.
                    BOOST_TEST(admitted.size() <= 3 * max_cards);
                }
                left_out += all.size() - admitted.size();
            }
        }
    }
    BOOST_TEST(sequences == 1093U);
    BOOST_TEST(left_out > 0U);
}

BOOST_AUTO_TEST_CASE(a_card_budget_admits_a_more_severe_card_after_it_is_spent_on_less_severe_ones)
{
    card_budget budget(2);
    budget.add("info");
    budget.add("info");
    BOOST_TEST(!budget.admits("info"));
    BOOST_TEST(budget.admits("warning"));
    BOOST_TEST(budget.admits("critical"));
    budget.add("critical");
    budget.add("warning");
    BOOST_TEST(!budget.admits("warning"));
    BOOST_TEST(budget.admits("critical"));
    BOOST_TEST(!budget.admits("something else"));  // ranked as info

    card_budget none(0);
    BOOST_TEST(!none.admits("critical"));
    card_budget unlimited;
    for (int i = 0; i < 1000; ++i)
        unlimited.add("critical");
    BOOST_TEST(unlimited.admits("info"));
}

BOOST_AUTO_TEST_CASE(disabled_types_and_coverage_info_are_removed)
{
    json::object res{
        {"cards", json::array{card("info", "coverage-info", 1), card("warning", "claim", 2)}}, {"systemActions", json::array{coverage_action()}}};
    crd_options o;
    o.coverage_info = false;
    o.disabled_card_types = {"claim"};
    apply_options(res, o);
    BOOST_TEST(res.at("cards").as_array().size() == 1U);
    BOOST_TEST(!res.contains("systemActions"));  // CDS Hooks: never an empty systemActions array
}

BOOST_AUTO_TEST_CASE(discovery_options_are_complete)
{
    auto options = configuration_options(types);
    BOOST_TEST_REQUIRE(options.size() == 3U);
    for (const auto& o : options)
    {
        for (const char* key : {"code", "type", "name", "description"})
            BOOST_TEST(!o.at(key).as_string().empty());
        BOOST_TEST(o.as_object().contains("default"));
        BOOST_TEST((o.at("type") == "boolean" ? o.at("default").is_bool() : o.at("default").is_number()));
    }
    BOOST_TEST(options.back().at("code").as_string() == "max-cards");
    BOOST_TEST(options.back().at("type").as_string() == "integer");
}

BOOST_AUTO_TEST_SUITE_END()
