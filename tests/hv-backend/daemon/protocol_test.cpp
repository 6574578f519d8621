// Unit tests of the wire protocol parser: valid messages of every op, and the
// malformed corpus (tests/data/malformed) checked at the parse level.
#include "vtasos/daemon/protocol.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace vtasos::daemon {
namespace {

Message parse_ok(std::string_view line) {
    auto p = parse_message(line);
    EXPECT_TRUE(p.message.ok()) << line << " -> " << p.message.error().to_string();
    return p.message.ok() ? *p.message : Message{};
}

Error parse_err(std::string_view line) {
    auto p = parse_message(line);
    EXPECT_FALSE(p.message.ok()) << line;
    return p.message.ok() ? Error() : p.message.error();
}

TEST(ProtocolTest, OpTableNamesAreUniqueAndRoundTrip) {
    std::set<std::string_view> names;
    for (const auto& row : op_table()) {
        EXPECT_TRUE(names.insert(row.name).second) << row.name;
        EXPECT_EQ(to_string(row.op), row.name);
        EXPECT_FALSE(row.summary.empty());
    }
    EXPECT_EQ(names.size(), 11u);
}

TEST(ProtocolTest, HelloAndEmptyOps) {
    auto m = parse_ok(R"({"v":1,"id":7,"op":"hello","client":"test"})");
    EXPECT_EQ(m.id, 7);
    EXPECT_EQ(m.op, Op::kHello);
    EXPECT_EQ(std::get<HelloArgs>(m.args).client, "test");
    EXPECT_EQ(parse_ok(R"({"v":1,"id":0,"op":"status"})").op, Op::kStatus);
    EXPECT_EQ(parse_ok(R"({"v":1,"id":1,"op":"topology"})").op, Op::kTopology);
    EXPECT_EQ(parse_ok(R"({"v":1,"id":1,"op":"thaw_all"})").op, Op::kThawAll);
    // CRLF is tolerated.
    EXPECT_EQ(parse_ok("{\"v\":1,\"id\":1,\"op\":\"status\"}\r").op, Op::kStatus);
}

TEST(ProtocolTest, RegisterWithRequestFillsTenant) {
    auto m = parse_ok(
        R"({"v":1,"id":2,"op":"register","tenant":"cg-1","pids":[10,11],"detached":true,)"
        R"("request":{"cpus":2,"coexist":"core","bandwidth":"high","sched":{"gang":true}}})");
    const auto& r = std::get<RegisterArgs>(m.args);
    EXPECT_EQ(r.tenant, "cg-1");
    EXPECT_EQ(r.pids, (std::vector<pid_t>{10, 11}));
    EXPECT_TRUE(r.detached);
    ASSERT_TRUE(r.request);
    EXPECT_EQ(r.request->tenant, "cg-1");
    EXPECT_EQ(r.request->cpus, 2);
    EXPECT_EQ(r.request->coexist, (std::vector<Coexist>{Coexist::kCore, Coexist::kCore}));
    EXPECT_EQ(r.request->bandwidth.cls, BandwidthClass::kHigh);
    EXPECT_TRUE(r.request->sched.gang);
    EXPECT_FALSE(r.profile);
}

TEST(ProtocolTest, RegisterWithProfileOrNothing) {
    auto m = parse_ok(
        R"({"v":1,"id":3,"op":"register","tenant":"ep","pids":[5],"profile":"npb-ep","cpus":2})");
    const auto& r = std::get<RegisterArgs>(m.args);
    EXPECT_EQ(r.profile, "npb-ep");
    EXPECT_EQ(r.cpus, 2);
    auto m2 = parse_ok(R"({"v":1,"id":3,"op":"register","tenant":"x"})");
    const auto& r2 = std::get<RegisterArgs>(m2.args);
    EXPECT_TRUE(r2.pids.empty());
    EXPECT_EQ(r2.cpus, 0);
    EXPECT_FALSE(r2.request);
}

TEST(ProtocolTest, UpdateDefaultsObservationName) {
    auto m = parse_ok(
        R"({"v":1,"id":4,"op":"update","tenant":"cg-1","observations":{"threads":4,"barrier_rate_hz":900,)"
        R"("bandwidth":{"class":"high"}}})");
    const auto& u = std::get<UpdateArgs>(m.args);
    EXPECT_EQ(u.observations.name, "cg-1");
    EXPECT_EQ(u.observations.threads, 4);
    EXPECT_EQ(u.observations.bandwidth.cls, BandwidthClass::kHigh);
}

TEST(ProtocolTest, ErrorsNameTheField) {
    auto e = parse_err(R"({"v":1,"id":1,"op":"register","tenant":"a","pids":[3,-3]})");
    EXPECT_EQ(e.code(), Errc::kInvalidArgument);
    EXPECT_EQ(e.message(), "register.pids[1]: expected an integer in 1..4194304, got number -3");
    e = parse_err(R"({"v":1,"id":1,"op":"register","tenant":"a","request":{"cpus":-3}})");
    EXPECT_EQ(e.message(), "register.request.cpus: expected an integer in 1..4096, got number -3");
    e = parse_err(R"({"v":1,"id":1,"op":"advice","tenant":"../../etc"})");
    EXPECT_NE(e.message().find("advice.tenant: expected an identifier"), std::string::npos)
        << e.message();
    e = parse_err(R"({"v":1,"id":1,"op":"register","tenant":"a","cpu":2})");
    EXPECT_NE(e.message().find("register.cpu: unknown field"), std::string::npos) << e.message();
}

TEST(ProtocolTest, IdIsReportedEvenWhenTheRestIsBad) {
    auto p = parse_message(R"({"v":1,"id":42,"op":"nope"})");
    ASSERT_FALSE(p.message.ok());
    ASSERT_TRUE(p.id);
    EXPECT_EQ(*p.id, 42);
    auto reply = error_reply(p.id, p.message.error());
    EXPECT_EQ(reply["id"], 42);
    EXPECT_EQ(reply["ok"], false);
    EXPECT_EQ(reply["error"]["code"], "invalid_argument");
    EXPECT_EQ(error_reply(std::nullopt, Error(Errc::kProtocol, "x"))["id"], nullptr);
}

TEST(ProtocolTest, SizeAndNestingLimits) {
    std::string big = R"({"v":1,"id":1,"op":"hello","client":")" + std::string(70000, 'a') + "\"}";
    auto e = parse_err(big);
    EXPECT_EQ(e.code(), Errc::kProtocol);
    EXPECT_NE(e.message().find("64 KiB"), std::string::npos);
    std::string deep = std::string(33, '[') + std::string(33, ']');
    EXPECT_NE(parse_err(deep).message().find("nested deeper than 32"), std::string::npos);
    // Brackets inside strings do not count.
    auto ok = parse_message(R"({"v":1,"id":1,"op":"hello","client":"a"})" + std::string());
    EXPECT_TRUE(ok.message.ok());
    std::string in_string =
        R"({"v":1,"id":1,"op":"register","tenant":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})";
    EXPECT_NE(parse_err(in_string).message().find("register.tenant"), std::string::npos);
}

TEST(ProtocolTest, SerializeReplacesInvalidUtf8) {
    nlohmann::json j = {{"m", std::string("a\xff"
                                          "b")}};
    std::string s = serialize(j);
    EXPECT_EQ(s.back(), '\n');
    EXPECT_NE(s.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
    // An unknown field name with invalid UTF-8 cannot come through the JSON
    // parser, but a cut multi-byte key in an error message must still serialize.
    auto p = parse_message("{\"v\":1,\"id\":1,\"op\":\"hello\",\"" + std::string(39, 'k') +
                           "\xc3\xa9\xc3\xa9\":1}");
    ASSERT_FALSE(p.message.ok());
    EXPECT_FALSE(serialize(error_reply(p.id, p.message.error())).empty());
}

// Each corpus entry whose problem is visible without daemon state must be
// rejected by the parser with the expected code and field.
TEST(ProtocolTest, MalformedCorpusIsRejectedAtParse) {
    namespace fs = std::filesystem;
    std::ifstream manifest(std::string(VTASOS_MALFORMED_DIR) + "/expected.tsv");
    ASSERT_TRUE(manifest) << "missing expected.tsv";
    std::string line;
    int checked = 0, total = 0;
    while (std::getline(manifest, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        std::string file, code, sub;
        std::getline(ls, file, '\t');
        std::getline(ls, code, '\t');
        std::getline(ls, sub);
        ++total;
        std::ifstream in(std::string(VTASOS_MALFORMED_DIR) + "/" + file, std::ios::binary);
        ASSERT_TRUE(in) << file;
        std::stringstream ss;
        ss << in.rdbuf();
        auto p = parse_message(ss.str());
        if (code == "invalid_argument" || code == "protocol") {
            ASSERT_FALSE(p.message.ok()) << file << " parsed but should fail";
            EXPECT_EQ(errc_name(p.message.error().code()), code)
                << file << ": " << p.message.error().message();
            EXPECT_NE(p.message.error().message().find(sub), std::string::npos)
                << file << ": \"" << p.message.error().message() << "\" lacks \"" << sub << "\"";
            ++checked;
        } else {
            EXPECT_TRUE(p.message.ok())
                << file
                << " should parse (its error needs daemon state): " << p.message.error().message();
        }
    }
    EXPECT_GE(total, 50);
    EXPECT_GE(checked, 40);
}

}  // namespace
}  // namespace vtasos::daemon
