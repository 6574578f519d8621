#include "internal/config.h"

#include <gtest/gtest.h>

namespace vtasos::mpi {
namespace {

TEST(MpiHookConfig, DefaultsAreValidAndQuiet) {
    HookConfig c = validate(RawParams{});
    EXPECT_TRUE(c.warnings.empty());
    EXPECT_EQ(c.enable, Enable::kAuto);
    EXPECT_EQ(c.binding, Binding::kTakeover);
    EXPECT_EQ(c.timeout_ms, 3000);
    EXPECT_EQ(c.threads_per_rank, 0);
    EXPECT_TRUE(c.socket.empty());
    EXPECT_TRUE(c.profile.empty());
}

TEST(MpiHookConfig, ReadsEveryParameter) {
    RawParams r;
    r.enable = " YES ";
    r.socket = "/tmp/x.sock";
    r.profile = "npb-cg";
    r.binding = "respect";
    r.threads_per_rank = 4;
    r.verbose = 2;
    r.timeout_ms = 100;
    HookConfig c = validate(r);
    EXPECT_TRUE(c.warnings.empty());
    EXPECT_EQ(c.enable, Enable::kYes);
    EXPECT_EQ(c.socket, "/tmp/x.sock");
    EXPECT_EQ(c.profile, "npb-cg");
    EXPECT_EQ(c.binding, Binding::kRespect);
    EXPECT_EQ(c.threads_per_rank, 4);
    EXPECT_EQ(c.verbose, 2);
    EXPECT_EQ(c.timeout_ms, 100);
}

TEST(MpiHookConfig, EnableSpellings) {
    for (const char* s : {"no", "0", "false", "off", "NO"}) {
        RawParams r;
        r.enable = s;
        EXPECT_EQ(validate(r).enable, Enable::kNo) << s;
    }
    for (const char* s : {"", "auto"}) {
        RawParams r;
        r.enable = s;
        EXPECT_EQ(validate(r).enable, Enable::kAuto) << s;
    }
}

struct Bad {
    RawParams raw;
    const char* param;
};

TEST(MpiHookConfig, EveryBadValueFallsBackWithOneWarningNamingIt) {
    std::vector<Bad> cases;
    auto add = [&](const char* p, auto set) {
        RawParams r;
        set(r);
        cases.push_back({r, p});
    };
    add("hook_vtasos_enable", [](RawParams& r) { r.enable = "maybe"; });
    add("hook_vtasos_binding", [](RawParams& r) { r.binding = "bind-to-core"; });
    add("hook_vtasos_timeout", [](RawParams& r) { r.timeout_ms = -5; });
    add("hook_vtasos_timeout", [](RawParams& r) { r.timeout_ms = 0; });
    add("hook_vtasos_timeout", [](RawParams& r) { r.timeout_ms = kMaxTimeoutMs + 1; });
    add("hook_vtasos_threads_per_rank", [](RawParams& r) { r.threads_per_rank = -1; });
    add("hook_vtasos_verbose", [](RawParams& r) { r.verbose = -3; });
    add("hook_vtasos_profile", [](RawParams& r) { r.profile = "no spaces!"; });
    add("hook_vtasos_socket", [](RawParams& r) { r.socket = std::string(200, 's'); });
    for (const auto& b : cases) {
        HookConfig c = validate(b.raw);
        ASSERT_EQ(c.warnings.size(), 1u) << b.param;
        EXPECT_NE(c.warnings[0].find(b.param), std::string::npos) << c.warnings[0];
        EXPECT_NE(c.warnings[0].find("using"), std::string::npos) << c.warnings[0];
        // and the fallback is the default
        HookConfig d = validate(RawParams{});
        EXPECT_EQ(c.timeout_ms, d.timeout_ms);
        EXPECT_EQ(c.binding, d.binding);
        EXPECT_EQ(c.enable, d.enable);
        EXPECT_EQ(c.threads_per_rank, d.threads_per_rank);
        EXPECT_EQ(c.profile, d.profile);
        EXPECT_EQ(c.socket, d.socket);
    }
}

TEST(MpiHookConfig, SelectionNamesVtasos) {
    EXPECT_TRUE(selected_by_framework("vtasos"));
    EXPECT_TRUE(selected_by_framework("comm_method, vtasos"));
    EXPECT_TRUE(selected_by_framework(" vtasos ,x"));
    EXPECT_FALSE(selected_by_framework(""));
    EXPECT_FALSE(selected_by_framework("^vtasos"));
    EXPECT_FALSE(selected_by_framework("^comm_method"));  // exclusion list: not asked for
    EXPECT_FALSE(selected_by_framework("vtasos2"));
    EXPECT_FALSE(selected_by_framework("comm_method"));
}

TEST(MpiHookConfig, ThreadsPerRank) {
    HookConfig c;
    std::string why;
    EXPECT_EQ(threads_per_rank(c, nullptr, &why), 1);
    EXPECT_NE(why.find("no OMP_NUM_THREADS"), std::string::npos);
    EXPECT_EQ(threads_per_rank(c, "4", &why), 4);
    EXPECT_EQ(why, "OMP_NUM_THREADS");
    EXPECT_EQ(threads_per_rank(c, "3,2", &why), 3);  // nested: the outer level
    EXPECT_EQ(threads_per_rank(c, "abc", &why), 1);
    EXPECT_NE(why.find("not a thread count"), std::string::npos);
    EXPECT_EQ(threads_per_rank(c, "0", &why), 1);
    c.threads_per_rank = 2;
    EXPECT_EQ(threads_per_rank(c, "8", &why), 2);  // the parameter wins
    EXPECT_EQ(why, "hook_vtasos_threads_per_rank");
}

}  // namespace
}  // namespace vtasos::mpi
