#include "internal/config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace vtasos::ompt {
namespace {

ParsedConfig parse(const std::map<std::string, std::string>& vars) {
    return parse_config([&](const char* name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    });
}

TEST(OmptConfig, DefaultsWhenNothingIsSet) {
    auto pc = parse({});
    EXPECT_TRUE(pc.warnings.empty());
    EXPECT_EQ(pc.config, Config{});
    EXPECT_TRUE(pc.config.enabled);
    EXPECT_TRUE(pc.config.bind);
    EXPECT_EQ(pc.config.verbose, 0);
}

TEST(OmptConfig, ReadsEveryVariable) {
    auto pc = parse({{"VTASOS_VERBOSE", "2"},
                     {"VTASOS_BIND", "0"},
                     {"VTASOS_SOCKET", "/tmp/s.sock"},
                     {"VTASOS_PROFILE", "npb-cg"},
                     {"VTASOS_PROFILE_OUT", "/tmp/out.json"},
                     {"VTASOS_OMPT", "1"},
                     {"VTASOS_OMPT_FAKE_ADVICE", "/tmp/a.json"}});
    EXPECT_TRUE(pc.warnings.empty());
    EXPECT_EQ(pc.config.verbose, 2);
    EXPECT_FALSE(pc.config.bind);
    EXPECT_EQ(pc.config.socket, "/tmp/s.sock");
    EXPECT_EQ(pc.config.profile, "npb-cg");
    EXPECT_EQ(pc.config.profile_out, "/tmp/out.json");
    EXPECT_EQ(pc.config.fake_advice, "/tmp/a.json");
}

TEST(OmptConfig, ProfileMayBeAPath) {
    EXPECT_EQ(parse({{"VTASOS_PROFILE", "./my profile.json"}}).config.profile, "./my profile.json");
    EXPECT_EQ(parse({{"VTASOS_PROFILE", "x.json"}}).config.profile, "x.json");
}

TEST(OmptConfig, DisabledByVtasosOmpt0) {
    EXPECT_FALSE(parse({{"VTASOS_OMPT", "0"}}).config.enabled);
    EXPECT_FALSE(parse({{"VTASOS_OMPT", "off"}}).config.enabled);
}

struct BadValue {
    const char* var;
    std::string value;
    const char* expect_in_message;
};

class OmptConfigBad : public ::testing::TestWithParam<BadValue> {};

TEST_P(OmptConfigBad, RejectedWithAClearMessageAndTheDefaultKept) {
    const auto& b = GetParam();
    auto pc = parse({{b.var, b.value}});
    ASSERT_EQ(pc.warnings.size(), 1u);
    const std::string& w = pc.warnings[0];
    EXPECT_NE(w.find(b.var), std::string::npos) << w;       // names the variable
    EXPECT_NE(w.find("expected"), std::string::npos) << w;  // says what is expected
    EXPECT_NE(w.find(b.expect_in_message), std::string::npos) << w;
    Config def;
    def.enabled = pc.config.enabled;
    EXPECT_EQ(pc.config, def) << w;  // nothing but the default
}

INSTANTIATE_TEST_SUITE_P(
    All, OmptConfigBad,
    ::testing::Values(BadValue{"VTASOS_VERBOSE", "7", "using 0"},
                      BadValue{"VTASOS_VERBOSE", "loud", "0, 1 or 2"},
                      BadValue{"VTASOS_BIND", "maybe", "0 or 1"},
                      BadValue{"VTASOS_BIND", "2", "using 1"},
                      BadValue{"VTASOS_SOCKET", "", "socket path"},
                      BadValue{"VTASOS_SOCKET", std::string(200, 's'), "1..107"},
                      BadValue{"VTASOS_PROFILE", "bad name!", "profile name"},
                      BadValue{"VTASOS_PROFILE", "", "profile name"},
                      BadValue{"VTASOS_PROFILE", std::string(65, 'a'), "profile name"},
                      BadValue{"VTASOS_PROFILE_OUT", "", "file path"},
                      BadValue{"VTASOS_OMPT", "perhaps", "stays enabled"}));

TEST(OmptConfig, SeveralBadValuesGiveOneWarningEach) {
    auto pc = parse({{"VTASOS_VERBOSE", "x"}, {"VTASOS_BIND", "y"}, {"VTASOS_PROFILE", "a b"}});
    EXPECT_EQ(pc.warnings.size(), 3u);
}

TEST(OmptConfig, LongValuesAreCutInMessages) {
    auto pc = parse({{"VTASOS_BIND", std::string(500, 'x')}});
    ASSERT_EQ(pc.warnings.size(), 1u);
    EXPECT_LT(pc.warnings[0].size(), 200u);
}

TEST(OmptConfig, ProfileNames) {
    EXPECT_TRUE(is_profile_name("npb-cg"));
    EXPECT_TRUE(is_profile_name("a.b_c:d@e+f-1"));
    EXPECT_FALSE(is_profile_name(""));
    EXPECT_FALSE(is_profile_name("a/b"));
    EXPECT_FALSE(is_profile_name("a b"));
    EXPECT_FALSE(is_profile_name(std::string(65, 'a')));
}

}  // namespace
}  // namespace vtasos::ompt
