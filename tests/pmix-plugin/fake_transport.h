// A scripted Transport: records requests, answers from a callback.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "internal/job.h"

namespace vtasos::mpi::testing {

class FakeTransport : public Transport {
public:
    using Answer = std::function<Result<nlohmann::json>(const nlohmann::json& req)>;
    explicit FakeTransport(Answer a) : answer_(std::move(a)) {}
    Result<nlohmann::json> call(const nlohmann::json& req) override {
        requests.push_back(req);
        return answer_(req);
    }
    std::vector<nlohmann::json> requests;

private:
    Answer answer_;
};

inline nlohmann::json ok(nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json j = {{"v", 1}, {"id", 1}, {"ok", true}};
    for (auto& [k, v] : extra.items()) j[k] = v;
    return j;
}

inline nlohmann::json refused(const std::string& code, const std::string& msg) {
    return {{"v", 1}, {"id", 1}, {"ok", false}, {"error", {{"code", code}, {"message", msg}}}};
}

inline nlohmann::json placement(const std::string& tenant, std::vector<std::vector<int>> pus) {
    nlohmann::json cpus = nlohmann::json::array();
    for (size_t i = 0; i < pus.size(); ++i) cpus.push_back({{"cpu", i}, {"pus", pus[i]}});
    return {{"tenant", tenant}, {"cpus", cpus}, {"mem_nodes", {0}}};
}

}  // namespace vtasos::mpi::testing
