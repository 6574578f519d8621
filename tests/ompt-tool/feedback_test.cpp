#include "internal/feedback.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "test_util.h"

namespace vtasos::ompt {
namespace {

class ScriptedSource : public AdviceSource {
public:
    std::vector<Result<Advice>> script;
    size_t next = 0;
    std::vector<std::string> updates;
    Result<Advice> advice() override {
        if (next < script.size()) return script[next++];
        return script.empty() ? Result<Advice>(Advice{}) : script.back();
    }
    Status update(const std::string& j) override {
        updates.push_back(j);
        return {};
    }
    std::string describe() const override { return "scripted"; }
};

Advice advise(int threads, bool gang = false) {
    Advice a;
    a.suggested_threads = threads;
    a.gang = gang;
    return a;
}

TEST(OmptFeedback, PublishesSuggestionsAndTheirChangeTime) {
    auto src = std::make_unique<ScriptedSource>();
    src->script = {advise(0), advise(2, true), advise(2), advise(-3)};
    FeedbackLoop loop(std::move(src), {}, nullptr);
    EXPECT_EQ(loop.suggested_threads(), 0);
    EXPECT_EQ(loop.gang(), -1);
    loop.poll_once();
    EXPECT_EQ(loop.suggested_threads(), 0);
    EXPECT_EQ(loop.changed_ns(), 0u);
    loop.poll_once();
    EXPECT_EQ(loop.suggested_threads(), 2);
    EXPECT_EQ(loop.gang(), 1);
    uint64_t changed = loop.changed_ns();
    EXPECT_GT(changed, 0u);
    loop.poll_once();
    EXPECT_EQ(loop.changed_ns(), changed);  // same advice: no change
    EXPECT_EQ(loop.gang(), 0);
    loop.poll_once();
    EXPECT_EQ(loop.suggested_threads(), 0);  // nonsense is no suggestion
    EXPECT_EQ(loop.polls(), 4u);
}

TEST(OmptFeedback, AFailureWithdrawsTheAdviceAndStopsTheLoop) {
    auto src = std::make_unique<ScriptedSource>();
    src->script = {advise(3), Error(Errc::kUnavailable, "daemon gone")};
    FeedbackLoop loop(std::move(src), {.period = std::chrono::milliseconds(1)}, nullptr);
    loop.start();
    for (int i = 0; i < 2000 && !loop.failed(); ++i) usleep(1000);
    EXPECT_TRUE(loop.failed());
    EXPECT_EQ(loop.suggested_threads(), 0);
    loop.stop();
    loop.stop();  // idempotent
}

TEST(OmptFeedback, SendsObservationsPeriodicallyAndAtTheEnd) {
    auto src = std::make_unique<ScriptedSource>();
    ScriptedSource* raw = src.get();
    int built = 0;
    FeedbackLoop loop(
        std::move(src),
        {.period = std::chrono::milliseconds(1), .update_every = std::chrono::milliseconds(5)},
        [&built] { return "{\"n\":" + std::to_string(++built) + "}"; });
    loop.start();
    for (int i = 0; i < 2000 && built < 2; ++i) usleep(1000);
    loop.stop(/*final_update=*/true);
    EXPECT_GE(raw->updates.size(), 2u);
    EXPECT_EQ(raw->updates.back(), "{\"n\":" + std::to_string(built) + "}");
}

// The profile goes out once, as soon as the tool says it may (after libomp's
// initialisation), before the first measured observations.
TEST(OmptFeedback, SendsTheInitialObservationsOnceWhenReady) {
    auto src = std::make_unique<ScriptedSource>();
    ScriptedSource* raw = src.get();
    int asked = 0;
    FeedbackLoop loop(
        std::move(src),
        {.update_every = std::chrono::milliseconds(100000),
         .first_update = std::chrono::milliseconds(100000),
         .initial_observations = [&asked] { return ++asked < 3 ? std::string() : "{\"p\":1}"; }},
        [] { return std::string("{\"m\":1}"); });
    loop.start();  // polls every 10 ms; measured updates only after 100 s
    for (int i = 0; i < 2000 && loop.polls() < 6; ++i) usleep(1000);
    loop.stop();
    EXPECT_GE(loop.polls(), 6u);
    EXPECT_EQ(asked, 3);  // not asked again once sent
    EXPECT_EQ(raw->updates, std::vector<std::string>{"{\"p\":1}"});
}

// Fast updates at first (the daemon's auto policy decides from them), the
// configured period after the early window.
TEST(OmptFeedback, SendsObservationsFastOnlyInTheEarlyWindow) {
    auto src = std::make_unique<ScriptedSource>();
    ScriptedSource* raw = src.get();
    FeedbackLoop loop(std::move(src),
                      {.period = std::chrono::milliseconds(1),
                       .update_every = std::chrono::milliseconds(10000),
                       .first_update = std::chrono::milliseconds(20),
                       .early_window = std::chrono::milliseconds(150)},
                      [] { return std::string("{}"); });
    loop.start();
    usleep(400000);
    loop.stop();
    // 150 ms at one update per 20 ms: ~7 (a loaded machine sends fewer); had
    // the fast rate gone on for the whole 400 ms there would be ~20.
    EXPECT_GE(raw->updates.size(), 2u);
    EXPECT_LE(raw->updates.size(), 9u);
}

TEST(OmptFeedback, PollsAtTheConfiguredPeriod) {
    FeedbackLoop loop(std::make_unique<ScriptedSource>(), {}, nullptr);  // 10 ms
    loop.start();
    usleep(200000);
    loop.stop();
    // 200 ms at one poll per 10 ms: ~20 (a loaded machine polls less, never more)
    EXPECT_GE(loop.polls(), 3u);
    EXPECT_LE(loop.polls(), 22u);
}

TEST(OmptFeedback, FileSource) {
    std::string dir = test::temp_dir("feedback");
    std::string path = dir + "/advice.json";
    FileAdviceSource src(path);
    auto none = src.advice();
    ASSERT_TRUE(none);
    EXPECT_EQ(none->suggested_threads, 0);  // no file: no advice
    std::ofstream(path)
        << R"({"node_load": 1.5, "suggested_threads": 3, "gang": true, "reason": "x"})";
    auto a = src.advice();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->suggested_threads, 3);
    EXPECT_TRUE(a->gang);
    std::ofstream(path) << R"({"node_load": 1.5, "sugg)";  // half written
    auto kept = src.advice();
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->suggested_threads, 3);
    EXPECT_NE(src.describe().find(path), std::string::npos);
}

}  // namespace
}  // namespace vtasos::ompt
