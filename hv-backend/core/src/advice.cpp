#include "vtasos/core/advice.h"

#include <fmt/format.h>

#include "vtasos/core/json_fields.h"

namespace vtasos {

nlohmann::json Advice::to_json() const {
    return {{"node_load", node_load},
            {"suggested_threads", suggested_threads},
            {"gang", gang},
            {"reason", reason}};
}

Result<Advice> Advice::from_json(const nlohmann::json& j) {
    using namespace vtasos::json;
    if (auto s = check_object(j, "advice", {"node_load", "suggested_threads", "gang", "reason"}); !s)
        return s.error();
    Advice a;
    auto load = get_number(j, "node_load", "advice", 0, 1e6);
    if (!load) return load.error();
    a.node_load = *load;
    auto th = get_int(j, "suggested_threads", "advice", 0, 65536, 0);
    if (!th) return th.error();
    a.suggested_threads = static_cast<int>(*th);
    auto g = get_bool(j, "gang", "advice", false);
    if (!g) return g.error();
    a.gang = *g;
    if (j.contains("reason")) {
        if (!j["reason"].is_string()) return field_error("advice.reason", "a string", j["reason"]);
        a.reason = j["reason"].get<std::string>();
    }
    return a;
}

std::string Advice::to_string() const {
    return fmt::format("load {:.2f}, threads {}, gang {} ({})", node_load,
                       suggested_threads ? std::to_string(suggested_threads) : "-",
                       gang ? "on" : "off", reason);
}

}  // namespace vtasos
