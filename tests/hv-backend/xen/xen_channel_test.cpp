// The xenstore guest channel: key validation (a domain writing another
// domain's keys is rejected) and request -> registration -> advice, against
// an in-memory store and a recording sink.
#include <gtest/gtest.h>

#include <map>

#include "vtasos/xen/channel.h"

namespace vtasos::xen {
namespace {

using json = nlohmann::json;

struct MemStore : ChannelStore {
    std::map<std::string, std::pair<std::string, uint32_t>> keys;  // path -> value, owner
    Result<std::optional<std::string>> read(const std::string& p) override {
        auto it = keys.find(p);
        if (it == keys.end()) return std::optional<std::string>();
        return std::optional<std::string>(it->second.first);
    }
    Result<uint32_t> owner(const std::string& p) override {
        auto it = keys.find(p);
        if (it == keys.end()) return Error(Errc::kNotFound, p);
        return it->second.second;
    }
    Status write(const std::string& p, const std::string& v) override {
        keys[p] = {v, 0};
        return {};
    }
    Result<std::string> domain_name(uint32_t d) override {
        auto it = keys.find("/local/domain/" + std::to_string(d) + "/name");
        if (it == keys.end()) return Error(Errc::kNotFound, "no name");
        return it->second.first;
    }
};

struct RecordingSink : ChannelSink {
    std::vector<std::string> calls;
    json last_request;
    bool refuse = false;
    bool exists = false;
    Result<json> register_domain(const std::string& t, uint32_t d, const json& r) override {
        calls.push_back("register " + t + " " + std::to_string(d));
        last_request = r;
        if (refuse) return Error(Errc::kInfeasible, "register: no 64 cpus here");
        if (exists) return Error(Errc::kAlreadyExists, "register.tenant: tenant exists");
        return json{{"tenant", t}, {"placement", {{"tenant", t}, {"cpus", json::array()}}}};
    }
    Result<json> update(const std::string& t, const json&) override {
        calls.push_back("update " + t);
        return json{{"tenant", t}, {"advice", {{"suggested_threads", 2}}}};
    }
    Result<json> advice(const std::string& t) override {
        calls.push_back("advice " + t);
        return json{{"advice", {{"node_load", 0.5}}}};
    }
    Status release(const std::string& t) override {
        calls.push_back("release " + t);
        return {};
    }
};

TEST(XenChannel, KeyValidation) {
    auto ok = validate_key("/local/domain/7/data/vtasos/request", 7);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(*ok, (KeyRef{7, GuestKey::kRequest}));
    EXPECT_EQ(validate_key("/local/domain/7/data/vtasos/profile", 7)->key, GuestKey::kProfile);
    auto spoof = validate_key("/local/domain/7/data/vtasos/request", 5);
    ASSERT_FALSE(spoof.ok());
    EXPECT_EQ(spoof.error().code(), Errc::kPermissionDenied);
    EXPECT_NE(spoof.error().message().find("written by domain 5, not by domain 7"),
              std::string::npos)
        << spoof.error().message();
    for (const char* bad :
         {"/local/domain/7/data/vtasos/advice", "/local/domain/0/data/vtasos/request",
          "/local/domain/7/data/vtasos/request/x", "/local/domain/x/data/vtasos/request",
          "/vtasos/request", ""})
        EXPECT_EQ(validate_key(bad, 7).error().code(), Errc::kInvalidArgument) << bad;
    EXPECT_EQ(guest_tenant(3, "cg-guest"), "xen-cg-guest");
    EXPECT_EQ(guest_tenant(3, "bad/name"), "xen-dom3");
}

TEST(XenChannel, RequestBecomesARegistrationAndAdviceIsWrittenBack) {
    MemStore store;
    RecordingSink sink;
    GuestChannel ch(store, sink);
    store.keys["/local/domain/4/name"] = {"cg-guest", 0};
    store.keys[request_path(4)] = {R"({"cpus":2,"coexist":"core","bandwidth":"high","tenant":"x"})",
                                   4};
    auto r = ch.on_event(request_path(4));
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(sink.calls,
              (std::vector<std::string>{"register xen-cg-guest 4", "advice xen-cg-guest"}));
    EXPECT_FALSE(sink.last_request.contains("tenant")) << "a guest cannot pick the tenant id";
    auto adv = json::parse(store.keys[advice_path(4)].first);
    EXPECT_TRUE(adv["ok"].get<bool>());
    EXPECT_EQ(adv["tenant"], "xen-cg-guest");
    EXPECT_EQ(adv["advice"]["node_load"], 0.5);

    store.keys[profile_path(4)] = {R"({"barriers_per_s": 100})", 4};
    ASSERT_TRUE(ch.on_event(profile_path(4)).ok());
    EXPECT_EQ(sink.calls.back(), "update xen-cg-guest");

    // A new request replaces the old registration.
    ASSERT_TRUE(ch.on_event(request_path(4)).ok());
    EXPECT_EQ(sink.calls[sink.calls.size() - 3], "release xen-cg-guest");

    // The domain goes away: its tenant is released.
    store.keys.erase("/local/domain/4/name");
    EXPECT_EQ(ch.on_release_domain(), std::vector<std::string>{"xen-cg-guest"});
    EXPECT_TRUE(ch.tenants().empty());
}

TEST(XenChannel, SpoofedKeyIsIgnoredAndBadInputGetsAnErrorAdvice) {
    MemStore store;
    RecordingSink sink;
    GuestChannel ch(store, sink);
    // Domain 5 managed to create a request key in domain 7's area.
    store.keys[request_path(7)] = {R"({"cpus":64})", 5};
    auto r = ch.on_event(request_path(7));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kPermissionDenied);
    EXPECT_TRUE(sink.calls.empty());
    EXPECT_FALSE(store.keys.count(advice_path(7))) << "nothing is written for a spoofed key";

    store.keys[request_path(8)] = {"not json", 8};
    EXPECT_FALSE(ch.on_event(request_path(8)).ok());
    auto adv = json::parse(store.keys[advice_path(8)].first);
    EXPECT_FALSE(adv["ok"].get<bool>());
    EXPECT_EQ(adv["error"]["code"], "invalid_argument");

    store.keys[profile_path(9)] = {"{}", 9};
    EXPECT_EQ(ch.on_event(profile_path(9)).error().code(), Errc::kNotFound);
    EXPECT_TRUE(sink.calls.empty());

    // The operator registered the domain already: the guest still gets advice.
    sink.exists = true;
    store.keys[request_path(11)] = {R"({"cpus":1})", 11};
    ASSERT_TRUE(ch.on_event(request_path(11)).ok());
    adv = json::parse(store.keys[advice_path(11)].first);
    EXPECT_TRUE(adv["ok"].get<bool>());
    EXPECT_TRUE(adv.contains("note"));
    EXPECT_TRUE(ch.tenants().empty()) << "not the channel's registration: never released by it";
    sink.exists = false;
    sink.calls.clear();

    sink.refuse = true;
    store.keys[request_path(10)] = {R"({"cpus":64})", 10};
    EXPECT_EQ(ch.on_event(request_path(10)).error().code(), Errc::kInfeasible);
    adv = json::parse(store.keys[advice_path(10)].first);
    EXPECT_EQ(adv["error"]["code"], "infeasible");
    EXPECT_TRUE(ch.tenants().empty());
}

}  // namespace
}  // namespace vtasos::xen
