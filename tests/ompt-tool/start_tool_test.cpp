// The tool's entry point driven without an OpenMP runtime: the real
// libvtasos-ompt.so is dlopened and handed a fake `lookup` whose
// ompt_set_callback records (or refuses) registrations, as DLB tests its OMPT
// tool. Every scenario runs in a forked child (the tool's state is global).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <omp-tools.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "test_util.h"

// The runtime functions the tool calls to apply advice; exported from this
// executable (ENABLE_EXPORTS) so that the tool's dlsym finds them.
static std::atomic<int> g_set_num_threads_calls{0};
static std::atomic<int> g_last_num_threads{0};
extern "C" __attribute__((visibility("default"))) void omp_set_num_threads(int n) {
    g_set_num_threads_calls++;
    g_last_num_threads = n;
}
extern "C" __attribute__((visibility("default"))) int omp_get_max_threads() { return 8; }

namespace vtasos::ompt {
namespace {

struct Fake {
    std::map<int, ompt_callback_t> callbacks;
    std::map<int, ompt_set_result_t> results;  // default: always
    int set_calls = 0;
};
Fake g_fake;

ompt_set_result_t fake_set_callback(ompt_callbacks_t event, ompt_callback_t cb) {
    g_fake.set_calls++;
    auto it = g_fake.results.find(event);
    ompt_set_result_t r = it == g_fake.results.end() ? ompt_set_always : it->second;
    if (r < ompt_set_sometimes) return r;
    if (cb)
        g_fake.callbacks[event] = cb;
    else
        g_fake.callbacks.erase(event);
    return r;
}

ompt_interface_fn_t fake_lookup(const char* name) {
    if (std::strcmp(name, "ompt_set_callback") == 0)
        return reinterpret_cast<ompt_interface_fn_t>(&fake_set_callback);
    return nullptr;
}

using StartTool = ompt_start_tool_result_t* (*)(unsigned, const char*);

StartTool load_tool() {
    void* h = dlopen(VTASOS_OMPT_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        std::fprintf(stderr, "dlopen: %s\n", dlerror());
        std::exit(90);
    }
    auto f = reinterpret_cast<StartTool>(dlsym(h, "ompt_start_tool"));
    if (!f) std::exit(91);
    return f;
}

// In the child: a failed check prints and exits non-zero.
#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            std::fprintf(stderr, "check failed at line %d: %s\n", __LINE__, #cond); \
            std::exit(1);                                                           \
        }                                                                           \
    } while (0)

void clear_env() {
    for (const char* v : {"VTASOS_OMPT", "VTASOS_VERBOSE", "VTASOS_BIND", "VTASOS_SOCKET",
                          "VTASOS_PROFILE", "VTASOS_PROFILE_OUT", "VTASOS_OMPT_FAKE_ADVICE"})
        unsetenv(v);
    // No daemon: a socket path where nothing listens.
    setenv("VTASOS_SOCKET", "/nonexistent/vtasos-test.sock", 1);
}

template <typename F>
F cb(ompt_callbacks_t ev) {
    auto it = g_fake.callbacks.find(ev);
    CHECK(it != g_fake.callbacks.end());
    return reinterpret_cast<F>(it->second);
}

// ---- scenarios (each ends with exit(0) on success) ----

void scenario_registers_everything() {
    clear_env();
    StartTool start = load_tool();
    ompt_start_tool_result_t* r = start(201611, "fake runtime");
    CHECK(r && r->initialize && r->finalize);
    CHECK(r->initialize(&fake_lookup, 0, &r->tool_data) == 1);
    for (auto ev :
         {ompt_callback_thread_begin, ompt_callback_thread_end, ompt_callback_parallel_begin,
          ompt_callback_parallel_end, ompt_callback_implicit_task, ompt_callback_sync_region_wait,
          ompt_callback_mutex_acquire, ompt_callback_mutex_acquired, ompt_callback_mutex_released,
          ompt_callback_work, ompt_callback_task_create, ompt_callback_task_schedule,
          ompt_callback_reduction})
        CHECK(g_fake.callbacks.count(ev) == 1);
    // Counted from sync_region_wait: one callback pair per barrier, not two.
    CHECK(g_fake.callbacks.count(ompt_callback_sync_region) == 0);
    r->finalize(&r->tool_data);
    r->finalize(&r->tool_data);  // a second call is ignored
    std::exit(0);
}

void scenario_disabled() {
    clear_env();
    setenv("VTASOS_OMPT", "0", 1);
    setenv("VTASOS_VERBOSE", "1", 1);
    CHECK(load_tool()(201611, "fake") == nullptr);
    std::exit(0);
}

void scenario_second_start() {
    clear_env();
    setenv("VTASOS_VERBOSE", "1", 1);
    StartTool start = load_tool();
    CHECK(start(201611, "fake") != nullptr);
    CHECK(start(201611, "fake") == nullptr);
    std::exit(0);
}

void scenario_required_never() {
    clear_env();
    setenv("VTASOS_VERBOSE", "1", 1);
    g_fake.results[ompt_callback_sync_region_wait] = ompt_set_never;
    StartTool start = load_tool();
    ompt_start_tool_result_t* r = start(201611, "fake");
    CHECK(r != nullptr);
    CHECK(r->initialize(&fake_lookup, 0, &r->tool_data) == 0);
    CHECK(g_fake.callbacks.empty());  // everything it had set was unset again
    // Undone completely: the tool can be started again.
    g_fake.results.clear();
    ompt_start_tool_result_t* again = start(201611, "fake");
    CHECK(again != nullptr);
    CHECK(again->initialize(&fake_lookup, 0, &again->tool_data) == 1);
    std::exit(0);
}

void scenario_optional_missing() {
    clear_env();
    g_fake.results[ompt_callback_mutex_acquire] = ompt_set_never;
    g_fake.results[ompt_callback_work] = ompt_set_error;
    g_fake.results[ompt_callback_task_schedule] = ompt_set_sometimes;
    StartTool start = load_tool();
    ompt_start_tool_result_t* r = start(201611, "fake");
    CHECK(r && r->initialize(&fake_lookup, 0, &r->tool_data) == 1);
    CHECK(g_fake.callbacks.count(ompt_callback_mutex_acquire) == 0);
    CHECK(g_fake.callbacks.count(ompt_callback_task_schedule) == 1);
    std::exit(0);
}

void scenario_no_set_callback() {
    clear_env();
    setenv("VTASOS_VERBOSE", "1", 1);
    StartTool start = load_tool();
    ompt_start_tool_result_t* r = start(201611, "fake");
    CHECK(r && r->initialize([](const char*) -> ompt_interface_fn_t { return nullptr; }, 0,
                             &r->tool_data) == 0);
    std::exit(0);
}

// One region of two threads with 5 explicit barriers, then finalize.
void scenario_profile(const char* out) {
    clear_env();
    setenv("VTASOS_PROFILE_OUT", out, 1);
    StartTool start = load_tool();
    ompt_start_tool_result_t* r = start(201611, "fake");
    CHECK(r && r->initialize(&fake_lookup, 0, &r->tool_data) == 1);
    auto thread_begin = cb<ompt_callback_thread_begin_t>(ompt_callback_thread_begin);
    auto thread_end = cb<ompt_callback_thread_end_t>(ompt_callback_thread_end);
    auto parallel_begin = cb<ompt_callback_parallel_begin_t>(ompt_callback_parallel_begin);
    auto parallel_end = cb<ompt_callback_parallel_end_t>(ompt_callback_parallel_end);
    auto implicit_task = cb<ompt_callback_implicit_task_t>(ompt_callback_implicit_task);
    auto sync_wait = cb<ompt_callback_sync_region_t>(ompt_callback_sync_region_wait);
    auto mutex_acquire = cb<ompt_callback_mutex_acquire_t>(ompt_callback_mutex_acquire);
    auto mutex_acquired = cb<ompt_callback_mutex_t>(ompt_callback_mutex_acquired);

    ompt_data_t td{}, pd{}, task{};
    thread_begin(ompt_thread_initial, &td);
    implicit_task(ompt_scope_begin, nullptr, &task, 1, 1, ompt_task_initial);
    parallel_begin(&task, nullptr, &pd, 2, ompt_parallel_team, nullptr);
    implicit_task(ompt_scope_begin, &pd, &task, 2, 0, ompt_task_implicit);
    auto barriers = [&] {
        for (int i = 0; i < 5; ++i) {
            sync_wait(ompt_sync_region_barrier_explicit, ompt_scope_begin, &pd, &task, nullptr);
            sync_wait(ompt_sync_region_barrier_explicit, ompt_scope_end, &pd, &task, nullptr);
        }
        mutex_acquire(ompt_mutex_critical, 0, 0, 1, nullptr);
        mutex_acquired(ompt_mutex_critical, 1, nullptr);
    };
    barriers();
    std::thread([&] {
        ompt_data_t wtd{}, wtask{};
        thread_begin(ompt_thread_worker, &wtd);
        implicit_task(ompt_scope_begin, &pd, &wtask, 2, 1, ompt_task_implicit);
        barriers();
        implicit_task(ompt_scope_end, nullptr, &wtask, 0, 1, ompt_task_implicit);
        thread_end(&wtd);
    }).join();
    implicit_task(ompt_scope_end, &pd, &task, 2, 0, ompt_task_implicit);
    parallel_end(&pd, &task, ompt_parallel_team, nullptr);
    thread_end(&td);
    r->finalize(&r->tool_data);
    std::exit(0);
}

void scenario_fork(const char* out) {
    clear_env();
    setenv("VTASOS_PROFILE_OUT", out, 1);
    StartTool start = load_tool();
    ompt_start_tool_result_t* r = start(201611, "fake");
    CHECK(r && r->initialize(&fake_lookup, 0, &r->tool_data) == 1);
    pid_t pid = fork();
    if (pid == 0) {
        r->finalize(&r->tool_data);  // the child must not write the parent's profile
        CHECK(load_tool()(201611, "fake") == nullptr);  // nor start a second tool
        _exit(std::filesystem::exists(out) ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(!std::filesystem::exists(out));
    r->finalize(&r->tool_data);
    CHECK(std::filesystem::exists(out));
    std::exit(0);
}

void scenario_advice(const char* advice_file) {
    clear_env();
    setenv("VTASOS_OMPT_FAKE_ADVICE", advice_file, 1);
    StartTool start = load_tool();
    ompt_start_tool_result_t* r = start(201611, "fake");
    CHECK(r && r->initialize(&fake_lookup, 0, &r->tool_data) == 1);
    auto thread_begin = cb<ompt_callback_thread_begin_t>(ompt_callback_thread_begin);
    auto parallel_begin = cb<ompt_callback_parallel_begin_t>(ompt_callback_parallel_begin);
    auto parallel_end = cb<ompt_callback_parallel_end_t>(ompt_callback_parallel_end);
    ompt_data_t td{};
    auto region = [&] {  // an outermost region: advice is applied as it forks
        parallel_begin(nullptr, nullptr, nullptr, 8, ompt_parallel_team, nullptr);
        parallel_end(nullptr, nullptr, ompt_parallel_team, nullptr);
    };
    thread_begin(ompt_thread_initial, &td);
    region();
    CHECK(g_set_num_threads_calls == 0);  // no advice, nothing touched
    {
        FILE* f = std::fopen(advice_file, "w");
        CHECK(f);
        std::fputs(R"({"node_load": 2, "suggested_threads": 2, "gang": false, "reason": "t"})", f);
        std::fclose(f);
    }
    for (int i = 0; i < 500 && g_last_num_threads != 2; ++i) {
        usleep(2000);
        region();
    }
    CHECK(g_last_num_threads == 2);
    int calls = g_set_num_threads_calls;
    region();
    CHECK(g_set_num_threads_calls == calls);  // applied once, not at every region
    std::remove(advice_file);                 // advice withdrawn: back to the saved 8
    for (int i = 0; i < 500 && g_last_num_threads != 8; ++i) {
        usleep(2000);
        region();
    }
    CHECK(g_last_num_threads == 8);
    r->finalize(&r->tool_data);
    std::exit(0);
}

void scenario_bad_env() {
    clear_env();
    setenv("VTASOS_BIND", "sometimes", 1);
    setenv("VTASOS_VERBOSE", "much", 1);
    StartTool start = load_tool();
    ompt_start_tool_result_t* r = start(201611, "fake");
    CHECK(r && r->initialize(&fake_lookup, 0, &r->tool_data) == 1);
    std::exit(0);
}

TEST(OmptStartTool, RegistersEveryCallbackAndFinalizesOnce) {
    EXPECT_EXIT(scenario_registers_everything(), ::testing::ExitedWithCode(0), "");
}

TEST(OmptStartTool, DisabledReturnsNullWithAReason) {
    EXPECT_EXIT(scenario_disabled(), ::testing::ExitedWithCode(0),
                "vtasos-ompt: disabled by VTASOS_OMPT=0");
}

TEST(OmptStartTool, ASecondStartReturnsNull) {
    EXPECT_EXIT(scenario_second_start(), ::testing::ExitedWithCode(0), "already active");
}

TEST(OmptStartTool, MissingRequiredCallbackUndoesEverything) {
    EXPECT_EXIT(scenario_required_never(), ::testing::ExitedWithCode(0),
                "callback sync_region_wait not available: never");
}

TEST(OmptStartTool, MissingOptionalCallbacksAreTolerated) {
    EXPECT_EXIT(scenario_optional_missing(), ::testing::ExitedWithCode(0), "");
}

TEST(OmptStartTool, RuntimeWithoutSetCallback) {
    EXPECT_EXIT(scenario_no_set_callback(), ::testing::ExitedWithCode(0),
                "no ompt_set_callback; tool disabled");
}

TEST(OmptStartTool, CallbacksBecomeAProfile) {
    std::string out = test::temp_dir("start") + "/p.json";
    EXPECT_EXIT(scenario_profile(out.c_str()), ::testing::ExitedWithCode(0), "");
    auto p = test::read_profile(out);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->threads, 2);
    EXPECT_EQ(test::note_count(*p, "regions"), 1);
    EXPECT_EQ(test::note_count(*p, "teams"), 1);
    EXPECT_EQ(test::note_count(*p, "threads_seen"), 2);
    EXPECT_EQ(test::note_count(*p, "barriers_explicit"), 5);
    EXPECT_EQ(test::note_count(*p, "barrier_events"), 10);
    EXPECT_EQ(test::note_count(*p, "criticals"), 2);
}

TEST(OmptStartTool, AForkedChildNeitherFinalizesNorRestarts) {
    std::string out = test::temp_dir("fork") + "/p.json";
    EXPECT_EXIT(scenario_fork(out.c_str()), ::testing::ExitedWithCode(0), "");
}

TEST(OmptStartTool, AdviceIsAppliedBetweenRegionsAndWithdrawn) {
    std::string file = test::temp_dir("advice") + "/advice.json";
    EXPECT_EXIT(scenario_advice(file.c_str()), ::testing::ExitedWithCode(0), "");
}

TEST(OmptStartTool, BadSettingsAreReportedAndTheToolRuns) {
    EXPECT_EXIT(scenario_bad_env(), ::testing::ExitedWithCode(0),
                "VTASOS_BIND=\"sometimes\": expected 0 or 1");
}

}  // namespace
}  // namespace vtasos::ompt
