#include "process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "test_util.h"

namespace vtasos::bench {
namespace {

using namespace std::chrono_literals;

ProcessSpec helper(std::vector<std::string> args, std::chrono::milliseconds timeout = 0ms) {
    ProcessSpec s;
    s.argv = {VTASOS_BENCH_TEST_HELPER};
    for (auto& a : args) s.argv.push_back(a);
    s.timeout = timeout;
    return s;
}

TEST(Process, CapturesOutputAndExitCode) {
    auto r = run_process(helper({"exit", "3"}));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->exit_code, 3);
    EXPECT_EQ(r->signal, 0);
    EXPECT_EQ(r->out, "hello\n");
    EXPECT_FALSE(r->succeeded());
    EXPECT_EQ(r->describe(), "exit 3");
    auto ok = run_process(helper({"exit", "0"}));
    ASSERT_TRUE(ok.ok());
    EXPECT_TRUE(ok->succeeded());
}

TEST(Process, CrashIsReportedWithSignal) {
    auto r = run_process(helper({"abort"}));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->signal, SIGABRT);
    EXPECT_EQ(r->exit_code, -1);
    EXPECT_NE(r->err.find("about to abort"), std::string::npos);
    EXPECT_NE(r->describe().find("SIGABRT"), std::string::npos);
    EXPECT_FALSE(r->succeeded());
}

TEST(Process, TimeoutKillsTheRun) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = run_process(helper({"sleep"}, 300ms));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->timed_out);
    EXPECT_EQ(r->signal, SIGTERM);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    EXPECT_NE(r->describe().find("timed out"), std::string::npos);
}

TEST(Process, TimeoutEscalatesToSigkill) {
    auto r = run_process(helper({"ignore-term"}, 200ms));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->timed_out);
    EXPECT_EQ(r->signal, SIGKILL);
    EXPECT_LT(r->wall_s, 6.0);
}

TEST(Process, TimeoutKillsTheWholeProcessGroup) {
    // The helper forks a grandchild that holds the output pipe open; without the group kill the
    // run would never see EOF.
    auto t0 = std::chrono::steady_clock::now();
    auto r = run_process(helper({"grandchild"}, 300ms));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->timed_out);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(Process, EnvironmentIsSetAndUnset) {
    ::setenv("VTASOS_BENCH_TEST_VAR", "parent", 1);
    auto spec = helper({"env", "VTASOS_BENCH_TEST_VAR"});
    auto r = run_process(spec);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->out, "parent\n");
    spec.unset_env = {"VTASOS_BENCH_TEST_VAR"};
    r = run_process(spec);
    EXPECT_EQ(r->out, "<unset>\n");
    spec.unset_env.clear();
    spec.set_env = {{"VTASOS_BENCH_TEST_VAR", "child"}};
    r = run_process(spec);
    EXPECT_EQ(r->out, "child\n");
    ::unsetenv("VTASOS_BENCH_TEST_VAR");
}

TEST(Process, MissingProgramIsAnError) {
    ProcessSpec missing;
    missing.argv = {"/nonexistent/kernel"};
    auto r = run_process(missing);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kNotFound);
    EXPECT_NE(r.error().message().find("/nonexistent/kernel"), std::string::npos);
    missing.argv = {"no-such-program-vtasos"};
    auto p = run_process(missing);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().message().find("$PATH"), std::string::npos);
    auto e = run_process(ProcessSpec{});
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code(), Errc::kInvalidArgument);
}

TEST(Process, CaptureIsCappedKeepingTheEnd) {
    auto spec = helper({"spam", "3000000"});
    spec.capture_limit = 1 << 20;
    auto r = run_process(spec);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->exit_code, 0);
    EXPECT_EQ(r->out.size(), 1u << 20);
}

TEST(Process, InterruptStopsTheRun) {
    clear_interrupt();
    std::thread t([] {
        std::this_thread::sleep_for(200ms);
        request_interrupt();
    });
    auto r = run_process(helper({"sleep"}));
    t.join();
    clear_interrupt();
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->interrupted);
    EXPECT_FALSE(r->timed_out);
}

TEST(Process, CancelFlagStopsTheRun) {
    std::atomic<bool> cancel{false};
    auto spec = helper({"sleep"});
    spec.cancel = &cancel;
    std::thread t([&] {
        std::this_thread::sleep_for(150ms);
        cancel = true;
    });
    auto r = run_process(spec);
    t.join();
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->cancelled);
    EXPECT_EQ(r->describe(), "cancelled");
}

TEST(Process, ChildStartsAndStops) {
    testing::TempDir dir;
    auto c = Child::spawn(helper({"sleep"}), dir.path() / "log");
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_TRUE(c->running());
    c->stop(1000ms);
    EXPECT_FALSE(c->running());
    EXPECT_EQ(c->exit_status(), "killed by SIGTERM");
}

TEST(Process, SignalNames) {
    EXPECT_EQ(signal_name(SIGSEGV), "SIGSEGV");
    EXPECT_EQ(signal_name(77), "signal 77");
}

}  // namespace
}  // namespace vtasos::bench
