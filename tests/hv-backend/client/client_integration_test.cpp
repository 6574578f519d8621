// libvtasos-client against a real vtasosd: the C API and the C++ wrapper.
#include <gtest/gtest.h>

#include "daemon_harness.h"
#include "vtasos/client.h"
#include "vtasos/client.hpp"

namespace vtasos::testing {
namespace {

class ClientDaemonTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(d_.start()) << d_.log(); }
    void TearDown() override {
        if (HasFailure()) std::cerr << d_.log();
    }
    Daemon d_;
};

TEST_F(ClientDaemonTest, CApiRegisterAdviceUpdateRelease) {
    vtasos_client* c = nullptr;
    ASSERT_EQ(vtasos_connect(d_.socket().c_str(), 5000, &c), VTASOS_OK)
        << vtasos_last_error(nullptr);
    Child child;
    int pid = child.pid();
    char placement[8192];
    int rc = vtasos_register(c, "capi", R"({"cpus":1,"coexist":"socket"})", nullptr, &pid, 1, 0,
                             placement, sizeof placement);
    ASSERT_EQ(rc, VTASOS_OK) << vtasos_last_error(c);
    auto p = json::parse(placement);
    EXPECT_EQ(p["tenant"], "capi");
    EXPECT_EQ(p["cpus"].size(), 1u);

    char advice[1024];
    ASSERT_EQ(vtasos_advice(c, "capi", advice, sizeof advice), VTASOS_OK) << vtasos_last_error(c);
    auto a = json::parse(advice);
    EXPECT_GT(a["node_load"].get<double>(), 0.0);
    EXPECT_EQ(a["suggested_threads"], 1);
    double load = -1;
    int threads = -1, gang = -1;
    ASSERT_EQ(vtasos_advice_values(c, "capi", &load, &threads, &gang), VTASOS_OK)
        << vtasos_last_error(c);
    EXPECT_DOUBLE_EQ(load, a["node_load"].get<double>());
    EXPECT_EQ(threads, 1);
    EXPECT_EQ(gang, 0);
    ::unsetenv("VTASOS_MPI_TENANT");
    EXPECT_EQ(vtasos_advice_values(c, nullptr, &load, nullptr, nullptr), VTASOS_E_INVAL);
    ::setenv("VTASOS_MPI_TENANT", "capi", 1);  // as the Open MPI hook publishes it
    EXPECT_EQ(vtasos_advice_values(c, nullptr, nullptr, &threads, nullptr), VTASOS_OK);
    ::unsetenv("VTASOS_MPI_TENANT");

    EXPECT_EQ(vtasos_update(c, "capi",
                            R"({"threads":1,"barrier_rate_hz":50,"bandwidth":{"class":"low"}})"),
              VTASOS_OK)
        << vtasos_last_error(c);
    EXPECT_EQ(vtasos_update(c, "capi", R"({"sync_fraction":3})"), VTASOS_E_REFUSED);
    EXPECT_NE(std::string(vtasos_last_error(c))
                  .find("invalid_argument: update.observations.sync_fraction"),
              std::string::npos)
        << vtasos_last_error(c);

    EXPECT_EQ(vtasos_release(c, "capi"), VTASOS_OK) << vtasos_last_error(c);
    EXPECT_EQ(vtasos_release(c, "capi"), VTASOS_E_REFUSED);
    EXPECT_STREQ(vtasos_last_error(c), "not_found: release.tenant: no tenant \"capi\"");
    vtasos_close(c);
}

TEST_F(ClientDaemonTest, CApiProfileAndDefaultRequests) {
    vtasos_client* c = nullptr;
    ASSERT_EQ(vtasos_connect(d_.socket().c_str(), 5000, &c), VTASOS_OK);
    Child a, b;
    int pa = a.pid(), pb = b.pid();
    int rc = vtasos_register(c, "by-default", nullptr, nullptr, &pa, 1, 1, nullptr, 0);
    EXPECT_EQ(rc, VTASOS_OK) << vtasos_last_error(c);
    rc = vtasos_register(c, "by-profile", nullptr, "no-such-profile", &pb, 1, 0, nullptr, 0);
    EXPECT_EQ(rc, VTASOS_E_REFUSED);
    EXPECT_NE(std::string(vtasos_last_error(c)).find("not_found: register.profile"),
              std::string::npos)
        << vtasos_last_error(c);
    vtasos_close(c);
    // The detached tenant outlives the connection.
    RawConn raw(d_.socket());
    auto st = raw.call({{"op", "status"}});
    ASSERT_TRUE(st);
    ASSERT_EQ((*st)["tenants"].size(), 1u);
    EXPECT_EQ((*st)["tenants"][0]["tenant"], "by-default");
    EXPECT_EQ((*st)["tenants"][0]["source"], "default");
}

TEST_F(ClientDaemonTest, CppWrapperReturnsResults) {
    auto c = Client::connect(d_.socket(), 5000);
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    Child child;
    Client::RegisterOptions o;
    o.request = default_request("cpp", 1);
    o.pids = {child.pid()};
    auto p = c->register_tenant("cpp", o);
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    EXPECT_EQ(p->tenant, "cpp");
    ASSERT_EQ(p->cpus.size(), 1u);
    EXPECT_EQ(cpus_allowed_list(child.pid()), format_cpulist(p->all_pus()));
    auto a = c->advice("cpp");
    ASSERT_TRUE(a.ok()) << a.error().to_string();
    EXPECT_EQ(a->suggested_threads, 1);
    Profile obs;
    obs.name = "cpp";
    obs.threads = 1;
    auto u = c->update("cpp", obs);
    ASSERT_TRUE(u.ok()) << u.error().to_string();
    EXPECT_TRUE(u->contains("replaced"));
    auto dup = c->register_tenant("cpp", o);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code(), Errc::kAlreadyExists);
    EXPECT_TRUE(c->release("cpp").ok());
    auto gone = c->advice("cpp");
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.error().code(), Errc::kNotFound);
    auto st = c->call("status");
    ASSERT_TRUE(st.ok());
    EXPECT_TRUE((*st)["tenants"].empty());
}

TEST_F(ClientDaemonTest, DaemonDeathIsUnavailableNotACrash) {
    vtasos_client* c = nullptr;
    ASSERT_EQ(vtasos_connect(d_.socket().c_str(), 1000, &c), VTASOS_OK);
    d_.kill9();
    char buf[256];
    EXPECT_EQ(vtasos_call(c, R"({"op":"hello"})", buf, sizeof buf), VTASOS_E_UNAVAILABLE);
    vtasos_close(c);
    EXPECT_EQ(vtasos_connect(d_.socket().c_str(), 1000, &c), VTASOS_E_UNAVAILABLE);
    ASSERT_TRUE(d_.start()) << d_.log();
}

}  // namespace
}  // namespace vtasos::testing
