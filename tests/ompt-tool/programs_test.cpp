// Real OpenMP programs under the tool (label "integration"): exact counts for
// known patterns, GCC-built programs through the libomp preload, programs
// that are not OpenMP, bad settings, unwritable profile paths, fork, advice.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <regex>

#include "internal/binding.h"
#include "test_util.h"

namespace vtasos::ompt {
namespace {

using test::note_count;
using test::run;

const std::string kTool = VTASOS_OMPT_LIB;
const std::string kToolEnv = "OMP_TOOL_LIBRARIES=" + kTool;
// No daemon in these tests: a socket where nothing listens.
const std::string kNoDaemon = "VTASOS_SOCKET=/nonexistent/vtasos-test.sock";

class OmptPrograms : public ::testing::Test {
protected:
    void SetUp() override { dir_ = test::temp_dir("programs"); }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string dir_;
};

// patterns.c: A 4 threads x 50 explicit barriers + 10 criticals each; B one
// loop on 3 threads; C 2 threads each opening a nested region of 2; D one
// single with 20 tasks and a taskwait on 2 threads; E 5 locks per thread on 2.
TEST_F(OmptPrograms, KnownPatternsGiveExactCounts) {
    std::string out = dir_ + "/patterns.json";
    auto r = run({PATTERNS}, {kToolEnv, kNoDaemon, "VTASOS_PROFILE_OUT=" + out});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("patterns result=499574 ok"), std::string::npos) << r.out;
    EXPECT_TRUE(test::tool_lines(r.err).empty()) << r.err;  // silent without VTASOS_VERBOSE
    auto p = test::read_profile(out);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->name, "patterns");
    EXPECT_EQ(p->match, std::vector<std::string>{"patterns"});
    EXPECT_EQ(p->threads, 4);
    EXPECT_EQ(note_count(*p, "regions"), 7);  // 5 outer + 2 nested
    EXPECT_EQ(note_count(*p, "nested_regions"), 2);
    EXPECT_EQ(note_count(*p, "teams"), 7);
    EXPECT_EQ(note_count(*p, "team_size_sum"), 4 + 3 + 2 + 2 + 2 + 2 + 2);
    EXPECT_EQ(note_count(*p, "team_size_max"), 4);
    EXPECT_EQ(note_count(*p, "requested_sum"), 17);
    EXPECT_EQ(note_count(*p, "implicit_tasks"), 17);
    EXPECT_EQ(note_count(*p, "barriers_explicit"), 50);
    // implicit: A join; B loop end + join; C outer join + 2 nested joins;
    // D end of single + join; E join
    EXPECT_EQ(note_count(*p, "barriers_implicit"), 1 + 2 + 3 + 2 + 1);
    EXPECT_EQ(note_count(*p, "criticals"), 40);
    EXPECT_EQ(note_count(*p, "locks"), 10);
    EXPECT_EQ(note_count(*p, "tasks"), 20);
    EXPECT_EQ(note_count(*p, "taskwaits"), 1);
    EXPECT_EQ(note_count(*p, "singles"), 1);
    EXPECT_EQ(note_count(*p, "loops"), 1);
    EXPECT_EQ(note_count(*p, "threads_seen"), 4);  // the hot team's 4 threads, reused
    EXPECT_GT(p->barrier_rate_hz, 0);
    EXPECT_GE(p->sync_fraction, 0);
    EXPECT_LE(p->sync_fraction, 1);
    EXPECT_EQ(p->bandwidth.cls, BandwidthClass::kUnknown);  // no counters in this VM/CI
}

// The file itself against profiles/schema.json (python3-jsonschema), on top of
// Profile::from_json, which read_profile applies everywhere.
TEST_F(OmptPrograms, ProfileIsValidAgainstTheJsonSchema) {
    auto probe = run({"/usr/bin/env", "python3", "-c", "import jsonschema"}, {});
    if (probe.status != 0) GTEST_SKIP() << "python3 with jsonschema not available";
    std::string out = dir_ + "/schema.json";
    ASSERT_EQ(run({PATTERNS}, {kToolEnv, kNoDaemon, "VTASOS_PROFILE_OUT=" + out}).status, 0);
    auto v =
        run({"/usr/bin/env", "python3", "-c",
             "import json, sys, jsonschema\n"
             "jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))\n"
             "print('valid')",
             out, PROFILE_SCHEMA},
            {});
    EXPECT_EQ(v.status, 0) << v.err;
    EXPECT_EQ(v.out, "valid\n");
}

TEST_F(OmptPrograms, ProfileMatchesTheBundledOneByExecutableName) {
    std::filesystem::copy_file(PATTERNS, dir_ + "/cg.W.x");
    std::string out = dir_ + "/cg.json";
    auto r = run({dir_ + "/cg.W.x"},
                 {kToolEnv, kNoDaemon, "VTASOS_PROFILE_OUT=" + out, "VTASOS_VERBOSE=1"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto lines = test::tool_lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;  // no daemon: one line, with VTASOS_VERBOSE only
    EXPECT_NE(lines[0].find("monitoring only"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("profile npb-cg (executable cg.W.x)"), std::string::npos) << lines[0];
    auto p = test::read_profile(out);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->name, "npb-cg");
    EXPECT_EQ(note_count(*p, "barriers_explicit"), 50);
}

TEST_F(OmptPrograms, ProfileChosenByVtasosProfile) {
    auto r = run({PATTERNS}, {kToolEnv, kNoDaemon, "VTASOS_PROFILE=npb-ft", "VTASOS_VERBOSE=1"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("profile npb-ft (VTASOS_PROFILE npb-ft)"), std::string::npos) << r.err;
}

TEST_F(OmptPrograms, GccBuiltProgramWithLibompPreloadIsObserved) {
    if (std::string(PATTERNS_GCC).empty()) GTEST_SKIP() << "gcc not found at configure time";
    if (std::string(LLVM_LIBOMP).empty()) GTEST_SKIP() << "LLVM libomp not found";
    std::string out = dir_ + "/gcc.json";
    auto r = run({PATTERNS_GCC}, {kToolEnv, kNoDaemon, "VTASOS_PROFILE_OUT=" + out,
                                  std::string("LD_PRELOAD=") + LLVM_LIBOMP});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("patterns result=499574 ok"), std::string::npos);
    auto p = test::read_profile(out);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->threads, 4);
    EXPECT_EQ(note_count(*p, "regions"), 7);
    EXPECT_EQ(note_count(*p, "nested_regions"), 2);
    EXPECT_EQ(note_count(*p, "team_size_sum"), 17);
    EXPECT_EQ(note_count(*p, "criticals"), 40);
    EXPECT_EQ(note_count(*p, "locks"), 10);
    EXPECT_EQ(note_count(*p, "tasks"), 20);
    EXPECT_EQ(note_count(*p, "taskwaits"), 1);
    EXPECT_EQ(note_count(*p, "singles"), 1);
    // libomp's GOMP_barrier reports the barrier construct as an "implementation"
    // barrier (libomp 14: explicit 0, implementation 52), and GOMP loops report
    // no work events: only the sum is pinned down.
    EXPECT_GE(note_count(*p, "barriers_explicit") + note_count(*p, "barriers_implementation"), 50);
}

TEST_F(OmptPrograms, GccBuiltProgramWithoutPreloadIsUnaffected) {
    if (std::string(PATTERNS_GCC).empty()) GTEST_SKIP() << "gcc not found at configure time";
    std::string out = dir_ + "/none.json";
    auto r = run({PATTERNS_GCC}, {kToolEnv, kNoDaemon, "VTASOS_PROFILE_OUT=" + out});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("patterns result=499574 ok"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(out));  // libgomp does not load OMPT tools
}

TEST_F(OmptPrograms, NonOpenMPProgramIsUnaffected) {
    std::string out = dir_ + "/noomp.json";
    auto base = run({NOOMP}, {});
    auto r = run({NOOMP}, {kToolEnv, kNoDaemon, "VTASOS_PROFILE_OUT=" + out, "VTASOS_VERBOSE=2"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, base.out);
    EXPECT_EQ(r.out, "noomp result=5050\n");
    EXPECT_EQ(r.err, "");
    EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(OmptPrograms, BadSettingsAreReportedAndTheProgramCompletes) {
    std::string out = dir_ + "/bad.json";
    auto r = run({PATTERNS},
                 {kToolEnv, "VTASOS_PROFILE_OUT=" + out, "VTASOS_BIND=maybe", "VTASOS_VERBOSE=loud",
                  "VTASOS_PROFILE=no such!", "VTASOS_SOCKET=" + std::string(300, 's')});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("patterns result=499574 ok"), std::string::npos);
    auto lines = test::tool_lines(r.err);
    ASSERT_EQ(lines.size(), 4u) << r.err;  // one per bad variable
    for (const char* var : {"VTASOS_BIND=", "VTASOS_VERBOSE=", "VTASOS_PROFILE=", "VTASOS_SOCKET="})
        EXPECT_NE(r.err.find(std::string("vtasos-ompt: ") + var), std::string::npos) << var;
    EXPECT_TRUE(test::read_profile(out));  // and the tool still learned
}

TEST_F(OmptPrograms, UnknownProfileNameIsReportedAndTheProgramCompletes) {
    auto r = run({PATTERNS}, {kToolEnv, kNoDaemon, "VTASOS_PROFILE=npb-zz"});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.err.find("VTASOS_PROFILE=npb-zz: no such profile"), std::string::npos) << r.err;
}

TEST_F(OmptPrograms, UnwritableProfilePathIsReportedAndTheProgramCompletes) {
    for (std::string out : {dir_ + "/no/such/dir/p.json", std::string("/proc/vtasos.json"), dir_}) {
        auto r = run({PATTERNS}, {kToolEnv, kNoDaemon, "VTASOS_PROFILE_OUT=" + out});
        EXPECT_EQ(r.status, 0) << out;
        EXPECT_NE(r.out.find("patterns result=499574 ok"), std::string::npos) << out;
        auto lines = test::tool_lines(r.err);
        ASSERT_EQ(lines.size(), 1u) << r.err;
        EXPECT_NE(lines[0].find("cannot write profile to VTASOS_PROFILE_OUT=" + out),
                  std::string::npos)
            << lines[0];
    }
}

TEST_F(OmptPrograms, DisabledToolLeavesTheProgramAlone) {
    std::string out = dir_ + "/off.json";
    auto r = run({PATTERNS},
                 {kToolEnv, "VTASOS_OMPT=0", "VTASOS_VERBOSE=1", "VTASOS_PROFILE_OUT=" + out});
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.err.find("disabled by VTASOS_OMPT=0"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(OmptPrograms, ForkedChildDoesNotDisturbTheParentsProfile) {
    // Also with the advice helper thread running (it does not exist in the child).
    for (bool helper : {false, true}) {
        std::string out = dir_ + "/fork.json";
        std::vector<std::string> env = {kToolEnv, kNoDaemon, "VTASOS_PROFILE_OUT=" + out};
        if (helper) env.push_back("VTASOS_OMPT_FAKE_ADVICE=" + dir_ + "/no-advice.json");
        auto r = run({FORK_PROG}, env);
        ASSERT_EQ(r.status, 0) << r.out << r.err;
        EXPECT_NE(r.out.find("fork result=6 child=ok"), std::string::npos) << r.out;
        auto p = test::read_profile(out);
        ASSERT_TRUE(p);
        EXPECT_EQ(note_count(*p, "regions"), 3);  // the parent's three, not the child's
        std::filesystem::remove(out);
    }
}

TEST_F(OmptPrograms, BindingOffAndNoDaemonLeaveAffinityAlone) {
    auto r = run({PATTERNS}, {kToolEnv, kNoDaemon, "VTASOS_BIND=0", "VTASOS_VERBOSE=1"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(test::tool_lines(r.err).size(), 1u) << r.err;
}

// Advice from the debug file source: halve 4 threads to 2 at region 100, withdraw
// at region 300. Reaction time = file written -> first region with 2 threads.
TEST_F(OmptPrograms, AdviceToHalveIsFollowedInTheNextRegions) {
    std::string advice = dir_ + "/advice.json";
    auto r = run({ADVICE_PROG, advice, "400", "100", "300", "2", "500"},
                 {kToolEnv, kNoDaemon, "OMP_NUM_THREADS=4", "VTASOS_OMPT_FAKE_ADVICE=" + advice});
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    std::printf("%s", r.out.c_str());
    EXPECT_NE(r.out.find("before=4 after=2 restored=4"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("stable=1"), std::string::npos) << r.out;
    // Within ~one poll period plus the region in flight; generous for loaded CI.
    double react_ms = -1;
    auto pos = r.out.find("react_ms=");
    ASSERT_NE(pos, std::string::npos);
    react_ms = std::strtod(r.out.c_str() + pos + 9, nullptr);
    EXPECT_GE(react_ms, 0);
    EXPECT_LT(react_ms, 500) << r.out;
}

// Writes an advice file (VTASOS_OMPT_FAKE_ADVICE) whose placement has two
// CPUs on PUs `first` and `second`; renamed into place so the tool never
// reads half a file.
void write_fake_advice(const std::string& path, double load, bool gang, int first, int second) {
    std::string tmp = path + ".tmp";
    std::ofstream(tmp) << R"({"node_load": )" << load << R"(, "suggested_threads": 0, )"
                       << R"("gang": )" << (gang ? "true" : "false") << R"(, "placement": )"
                       << R"({"tenant": "t", "mem_nodes": [], "cpus": [{"cpu": 0, "pus": [)"
                       << first << R"(]}, {"cpu": 1, "pus": [)" << second << "]}]}}";
    std::filesystem::rename(tmp, path);
}

// affinity_prog's last `affinity thread=N cpus=LIST` line per thread.
std::map<int, std::string> affinity_by_thread(const std::string& out) {
    std::map<int, std::string> got;
    std::regex aff_re(R"(affinity thread=(\d+) cpus=([0-9,]+))");
    for (std::sregex_iterator it(out.begin(), out.end(), aff_re), end; it != end; ++it)
        got[std::stoi((*it)[1])] = (*it)[2];
    return got;
}

// A re-placement (here from the advice file seam, which carries a placement
// the way the daemon's advice reply does): each thread re-binds itself at its
// next implicit task. No daemon and no driver touch affinity here, so what the
// threads end on is the tool's doing alone.
TEST_F(OmptPrograms, RePlacementMakesThreadsRebindAtTheirNextRegion) {
    auto pus = current_affinity();
    if (pus.size() < 2) GTEST_SKIP() << "needs 2 PUs";
    int a = pus[0], b = pus[1];
    std::string advice = dir_ + "/advice.json";
    write_fake_advice(advice, 0.5, false, a, b);
    // 150 regions, 20 ms apart: ~3 s; the placement swaps after ~1 s.
    auto fut = std::async(std::launch::async, [&] {
        return run({AFFINITY_PROG, "150", "20000"},
                   {kToolEnv, kNoDaemon, "OMP_NUM_THREADS=2", "VTASOS_VERBOSE=1",
                    "VTASOS_OMPT_FAKE_ADVICE=" + advice});
    });
    usleep(1000000);
    write_fake_advice(advice, 0.5, false, b, a);
    auto r = fut.get();
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    auto got = affinity_by_thread(r.out);
    ASSERT_EQ(got.size(), 2u) << r.out;
    // Thread 0 (the initial thread, first to begin) follows placement cpu 0.
    EXPECT_EQ(got[0], std::to_string(b)) << r.out << r.err;
    EXPECT_EQ(got[1], std::to_string(a)) << r.out << r.err;
    size_t changes = 0;
    for (const auto& l : test::tool_lines(r.err))
        if (l.find("placement changed") != std::string::npos) ++changes;
    EXPECT_EQ(changes, 2u) << r.err;
}

// Advice that the PUs are time-shared under the kernel scheduler (node load
// over 1, no gang): the threads float over the whole placement at their next
// region, so the kernel can balance them against the other tenant; gang
// advice pins them one per PU again.
TEST_F(OmptPrograms, TimeSharedPusMakeThreadsFloatAndGangPinsThemAgain) {
    auto pus = current_affinity();
    if (pus.size() < 2) GTEST_SKIP() << "needs 2 PUs";
    int a = pus[0], b = pus[1];
    std::string advice = dir_ + "/advice.json";
    auto affinity_after = [&](double first_load, bool first_gang, double load, bool gang) {
        write_fake_advice(advice, first_load, first_gang, a, b);
        auto fut = std::async(std::launch::async, [&] {
            return run({AFFINITY_PROG, "100", "20000"},
                       {kToolEnv, kNoDaemon, "OMP_NUM_THREADS=2", "VTASOS_VERBOSE=1",
                        "VTASOS_OMPT_FAKE_ADVICE=" + advice});
        });
        usleep(700000);
        write_fake_advice(advice, load, gang, a, b);
        auto r = fut.get();
        EXPECT_EQ(r.status, 0) << r.out << r.err;
        return std::make_pair(affinity_by_thread(r.out), r.err);
    };
    const std::string both = fmt::format("{},{}", std::min(a, b), std::max(a, b));
    auto [shared, err1] = affinity_after(0.5, false, 2.0, false);
    ASSERT_EQ(shared.size(), 2u) << err1;
    EXPECT_EQ(shared[0], both) << err1;
    EXPECT_EQ(shared[1], both) << err1;
    EXPECT_NE(err1.find("threads float over"), std::string::npos) << err1;
    auto [ganged, err2] = affinity_after(2.0, false, 2.0, true);
    ASSERT_EQ(ganged.size(), 2u) << err2;
    EXPECT_EQ(ganged[0], std::to_string(a)) << err2;
    EXPECT_EQ(ganged[1], std::to_string(b)) << err2;
    EXPECT_NE(err2.find("pinned one per placed CPU again"), std::string::npos) << err2;
}

// Runs one of our NPB kernels at class `cls` under the tool with the advice file
// seam: no advice at first, then "1 thread" once the kernel has printed
// progress line `shrink_at`, then "2 threads" at line `grow_at` (lines counted
// after `header`). Returns the run; *stage says how far the advice got.
test::ProcResult run_kernel_with_changing_advice(const std::string& dir, const std::string& prog,
                                                 const std::string& cls, const std::string& header,
                                                 long shrink_at, long grow_at, int* stage) {
    std::string advice = dir + "/advice.json";
    auto write = [&](int threads) {
        std::ofstream(advice + ".tmp") << R"({"node_load": 1, "gang": false, "suggested_threads": )"
                                       << threads << "}";
        std::filesystem::rename(advice + ".tmp", advice);
    };
    write(0);  // no advice yet: the team OMP_NUM_THREADS says
    *stage = 0;
    return run({prog, "--class", cls},
               {kToolEnv, kNoDaemon, "OMP_NUM_THREADS=2", "VTASOS_OMPT_FAKE_ADVICE=" + advice},
               120, [&](const std::string& out) {
                   auto h = out.find(header);
                   if (h == std::string::npos) return;
                   const long lines = std::count(out.begin() + static_cast<long>(h), out.end(), '\n');
                   if (*stage == 0 && lines > shrink_at) write(1), *stage = 1;
                   if (*stage == 1 && lines > grow_at) write(2), *stage = 2;
               });
}

// Our CG and IS kernels are malleable: advice to shrink mid-run (and to grow
// back) changes their team between iterations, the result still verifies, and
// the kernel says which iterations ran with which team, e.g.
// " cg: the team size changed between iterations: 1-2: 2 threads, 3-7: 1 thread, 8-15: 2 threads".
void expect_team_follows_advice(const std::string& dir, const std::string& kernel,
                                const std::string& prog, const std::string& cls,
                                const std::string& header, long shrink_at, long grow_at,
                                int iterations) {
    int stage = 0;
    auto r = run_kernel_with_changing_advice(dir, prog, cls, header, shrink_at, grow_at, &stage);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("SUCCESSFUL"), std::string::npos) << r.out;
    EXPECT_EQ(stage, 2) << r.out;
    const std::regex re(kernel +
                        R"(: the team size changed between iterations: 1-\d+: 2 threads, )"
                        R"(\d+-\d+: 1 thread, \d+-)" +
                        std::to_string(iterations) + ": 2 threads");
    EXPECT_TRUE(std::regex_search(r.err, re)) << r.err;
}

TEST_F(OmptPrograms, CgFollowsTeamChangesMidRunAndStillVerifies) {
    if (std::string(CG_PROG).empty()) GTEST_SKIP() << "the cg kernel is not built";
    // Progress lines after the "||r||" header: iteration k is line k.
    expect_team_follows_advice(dir_, "cg", CG_PROG, "A", "||r||", 1, 6, 15);
}

TEST_F(OmptPrograms, IsFollowsTeamChangesMidRunAndStillVerifies) {
    if (std::string(IS_PROG).empty()) GTEST_SKIP() << "the is kernel is not built";
    // After the "iteration" header, line k is printed as pass k begins. Class B:
    // ~0.1 s a pass here (class A's 20 ms leave little time for the advice).
    expect_team_follows_advice(dir_, "is", IS_PROG, "B", "   iteration", 2, 6, 10);
}

TEST_F(OmptPrograms, WithoutTheToolAdviceHasNoEffect) {
    std::string advice = dir_ + "/advice.json";
    auto r = run({ADVICE_PROG, advice, "60", "10", "50", "2", "100"},
                 {"OMP_NUM_THREADS=4", "VTASOS_OMPT_FAKE_ADVICE=" + advice});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("before=4 after=-1"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vtasos::ompt
