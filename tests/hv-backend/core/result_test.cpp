#include "vtasos/core/result.h"

#include <set>

#include <gtest/gtest.h>

namespace vtasos {
namespace {

TEST(ResultTest, ErrcTableIsCompleteAndNamesRoundTrip) {
    std::set<std::string_view> names;
    for (int i = 0; i < kErrcCount; ++i) {
        auto code = static_cast<Errc>(i);
        auto name = errc_name(code);
        EXPECT_FALSE(name.empty());
        EXPECT_FALSE(errc_message(code).empty());
        EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
        EXPECT_EQ(errc_from_name(name), code) << name;
    }
    EXPECT_EQ(errc_from_name("no-such-code"), Errc::kInternal);
}

TEST(ResultTest, ValueAndErrorAccess) {
    Result<int> ok = 42;
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(*ok, 42);
    Result<int> bad = Error(Errc::kNotFound, "tenant x");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code(), Errc::kNotFound);
    EXPECT_EQ(bad.error().to_string(), "not_found: tenant x");
    EXPECT_EQ(bad.value_or(7), 7);
    EXPECT_EQ(bad.error().with_context("release").message(), "release: tenant x");
    Status s;
    EXPECT_TRUE(s.ok());
    Status f = Error(Errc::kIo, "write");
    EXPECT_FALSE(f.ok());
}

}  // namespace
}  // namespace vtasos
