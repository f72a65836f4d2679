#include <crd/testing/decision_answers.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace json = boost::json;

namespace crd::testing {
namespace {

bool has_code(const json::object& order, std::initializer_list<std::string_view> codes)
{
    const json::value* list = order.if_contains("codes");
    if (!list || !list->is_array())
        return false;
    return std::any_of(list->get_array().begin(), list->get_array().end(), [&](const json::value& c) {
        const json::value* code = c.is_object() ? c.get_object().if_contains("code") : nullptr;
        return code && code->is_string() && std::find(codes.begin(), codes.end(), std::string_view(code->get_string())) != codes.end();
    });
}

json::object decision_for(const json::object& order)
{
    json::object d;
    d["order"] = order.at("reference");
    if (has_code(order, {"E0250", "E0424", "E0431"}))
    {
        d["covered"] = "covered";
        d["pa_needed"] = "auth-needed";
        d["doc_needed"] = json::array{"clinical"};
        d["doc_purpose"] = json::array{"withpa"};
        d["reason"] = "Durable medical equipment needs prior authorization with a face-to-face note.";
        d["questionnaire"] = json::array{"https://plan.example/fhir/Questionnaire/dme-f2f"};
        d["links"] = json::array{json::object{{"label", "Request prior authorization"}, {"url", "https://plan.example/pa"}}};
    }
    else if (has_code(order, {"97110"}))
    {
        d["covered"] = "conditional";
        d["pa_needed"] = "no-auth";
        d["info_needed"] = json::array{"performer"};
        d["reason"] = "Covered when the performer is in network.";
    }
    else
    {
        d["covered"] = "covered";
        d["pa_needed"] = "no-auth";
    }
    return d;
}

}  // namespace

std::string decisions_for(const std::string& request_body)
{
    boost::system::error_code ec;
    const json::value request = json::parse(request_body, ec);
    if (ec || !request.is_object())
        return {};
    const auto& o = request.get_object();
    const json::value* protocol = o.if_contains("protocol");
    const json::value* orders = o.if_contains("orders");
    if (!protocol || !protocol->is_string() || protocol->get_string() != "crd-decisions/1" || !orders || !orders->is_array())
        return {};
    json::array decisions;
    for (const auto& order : orders->get_array())
        if (order.is_object() && order.get_object().contains("reference"))
            decisions.push_back(decision_for(order.get_object()));
    return json::serialize(json::object{{"decisions", std::move(decisions)}});
}

http_answer answer_either_protocol(const received_request& request, const std::string& cds_hooks_body)
{
    std::string decided = decisions_for(request.body);
    if (decided.empty())
        return json_answer(200, cds_hooks_body);
    return json_answer(200, std::move(decided));
}

}  // namespace crd::testing
