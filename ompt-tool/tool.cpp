// The OMPT entry point and the only global state of the tool (STYLE.md habit 6):
// ompt_start_tool, initialize, finalize and the callback trampolines, which
// forward to the Learner (internal/learner.h) with the calling thread's slot.
#include "vtasos/ompt/tool.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "internal/binding.h"
#include "internal/clock.h"
#include "internal/config.h"
#include "internal/derive.h"
#include "internal/feedback.h"
#include "internal/learner.h"
#include "internal/papi.h"
#include "vtasos/core/placement.h"
#include "vtasos/profiles/profiles.h"
#ifdef VTASOS_OMPT_HAVE_CLIENT
#include "internal/daemon_link.h"
#include "vtasos/client.h"
#endif

#ifndef VTASOS_OMPT_PROFILE_DIRS
#define VTASOS_OMPT_PROFILE_DIRS ""
#endif

namespace vtasos::ompt {
namespace {

constexpr int kConnectTimeoutMs = 500;

struct Tool {
    Config cfg;
    TickClock clock;
    pid_t pid = 0;
    std::string exe;
    std::unique_ptr<Learner> learner;
    ProfileChoice choice;
    Request request;
    Binder binder;  // the placement at start-up
    // Binders of later placements (re-placement, re-registration); kept until
    // exit because a thread may still be reading an older one.
    std::vector<std::unique_ptr<Binder>> rebinders;
    std::mutex rebinders_mu;             // guards rebinders, placement, floating
    std::optional<Placement> placement;  // the one threads follow
    bool floating = false;               // threads float over its PUs (Binder::set_placement)
    std::atomic<unsigned> bind_seq{0};
    std::atomic<bool> bind_error_reported{false};
    std::unique_ptr<PapiCounters> papi;
    std::string bandwidth_source;
#ifdef VTASOS_OMPT_HAVE_CLIENT
    DaemonSession* session = nullptr;  // owned by `feedback` (its advice source)
#endif
    std::unique_ptr<FeedbackLoop> feedback;
    std::atomic<uint64_t> last_applied_ns{0};
    std::atomic<int> last_applied_threads{0};
    void (*set_num_threads)(int) = nullptr;
    int (*get_max_threads)() = nullptr;
    ompt_set_callback_t set_callback = nullptr;
    std::vector<ompt_callbacks_t> registered;
    std::atomic<bool> finalized{false};
};

// Set by initialize (and cleared when it undoes itself); read by every callback.
Tool* g_tool = nullptr;
// A tool was handed to a runtime in this process (a second load returns NULL).
std::atomic<bool> g_started{false};
// In a child forked after initialize: no daemon traffic, no profile, no helper thread.
std::atomic<bool> g_forked_child{false};
// The calling thread's counters; initial-exec keeps the access one instruction.
__thread ThreadSlot* t_slot __attribute__((tls_model("initial-exec"))) = nullptr;
// The binder threads follow and its generation: a re-placement publishes a new
// binder, then bumps the generation; each thread compares the generation at
// its next implicit-task begin (one relaxed load) and re-binds itself.
std::atomic<const Binder*> g_binder{nullptr};
alignas(128) std::atomic<unsigned> g_bind_gen{0};

void say(const std::string& line) { std::fprintf(stderr, "vtasos-ompt: %s\n", line.c_str()); }

const char* set_result_name(ompt_set_result_t r) {
    switch (r) {
        case ompt_set_error:
            return "error (the runtime refused the registration)";
        case ompt_set_never:
            return "never (the runtime never dispatches this event)";
        case ompt_set_impossible:
            return "impossible (the event cannot occur in this runtime)";
        case ompt_set_sometimes:
            return "sometimes (only some occurrences are reported)";
        case ompt_set_sometimes_paired:
            return "sometimes_paired (reported in begin/end pairs only)";
        case ompt_set_always:
            return "always";
    }
    return "unknown result";
}

std::string executable_name() {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    std::string path = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
    if (path.empty()) return program_invocation_short_name ? program_invocation_short_name : "";
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Threads the application's first region will ask for: OMP_NUM_THREADS's first
// level, else the CPUs this process may run on (libomp's default).
int default_team_size() {
    if (const char* v = std::getenv("OMP_NUM_THREADS")) {
        char* end = nullptr;
        long n = std::strtol(v, &end, 10);
        if (end != v && n > 0 && n <= kMaxCpusPerRequest) return static_cast<int>(n);
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

std::vector<std::string> profile_dirs() {
    std::vector<std::string> dirs;
    std::string all = VTASOS_OMPT_PROFILE_DIRS;
    size_t i = 0;
    while (i <= all.size()) {
        size_t j = all.find(':', i);
        if (j == std::string::npos) j = all.size();
        if (j > i) dirs.push_back(all.substr(i, j - i));
        i = j + 1;
    }
    return dirs;
}

// omp_set_num_threads / omp_get_max_threads of the runtime that loaded us: the
// library holding `lookup`, so a GCC program with libomp preloaded gets
// libomp's, not libgomp's.
template <typename F>
F runtime_symbol(ompt_function_lookup_t lookup, const char* name) {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(lookup), &info) && info.dli_fname) {
        if (void* h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) {
            void* f = dlsym(h, name);
            dlclose(h);
            if (f) return reinterpret_cast<F>(f);
        }
    }
    return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

// ---------------------------------------------------------------- callbacks

void on_thread_begin(ompt_thread_t type, ompt_data_t* thread_data) {
    Tool* t = g_tool;
    if (!t) return;
    ThreadSlot* s = t->learner->claim_slot();
    t_slot = s;
    if (thread_data) thread_data->ptr = s;
    if ((type == ompt_thread_initial || type == ompt_thread_worker) &&
        !g_forked_child.load(std::memory_order_relaxed)) {
        unsigned gen = g_bind_gen.load(std::memory_order_acquire);
        const Binder* b = g_binder.load(std::memory_order_acquire);
        unsigned seq = t->bind_seq.fetch_add(1, std::memory_order_relaxed);
        if (s) {
            s->bind_seq = seq;
            s->bind_gen = gen;
        }
        int err = 0;
        if (b && b->active()) {
            if (type == ompt_thread_initial && s) {
                // See Binder::bind_union: the whole placement now, its own PU at
                // its first implicit task (a stale generation forces rebind()).
                err = b->bind_union();
                s->bind_gen = gen - 1;
            } else {
                err = b->bind_thread(seq);
            }
        }
        if (err != 0 && t->cfg.verbose > 0 && !t->bind_error_reported.exchange(true))
            say(fmt::format("cannot bind thread {}: {}", seq, std::strerror(err)));
    }
    if (s && t->papi) s->papi_eventset = t->papi->start_thread();
}

void on_thread_end(ompt_data_t* thread_data) {
    Tool* t = g_tool;
    ThreadSlot* s = t_slot;
    if (!t || !s) return;
    if (t->papi && s->papi_eventset >= 0) {
        uint64_t v[2] = {0, 0};
        t->papi->stop_thread(s->papi_eventset, v);
        s->papi_eventset = -1;
        s->papi_values[0].add(v[0]);
        s->papi_values[1].add(v[1]);
    }
    t_slot = nullptr;
}

// Between parallel regions, on the thread about to start the next one. With
// libomp (14) a team size set here takes effect for the region being forked:
// __kmp_fork_call reads nthreads-var after the parallel-begin callback. (Set at
// parallel-end instead, it would be lost after a serialized region, whose
// implicit task is still current then.) A runtime that read the ICV earlier
// would apply it from the next region on.
void apply_advice(Tool* t, ThreadSlot* s) {
    int want = t->feedback->suggested_threads();
    if (want == s->applied_threads || !t->set_num_threads) return;
    if (s->applied_threads == 0) s->saved_threads = t->get_max_threads ? t->get_max_threads() : 0;
    if (want > 0)
        t->set_num_threads(want);
    else if (s->saved_threads > 0)
        t->set_num_threads(s->saved_threads);
    s->applied_threads = want;
    t->last_applied_threads.store(want, std::memory_order_relaxed);
    t->last_applied_ns.store(monotonic_ns(), std::memory_order_relaxed);
}

void on_parallel_begin(ompt_data_t*, const ompt_frame_t*, ompt_data_t*, unsigned int requested, int,
                       const void*) {
    ThreadSlot* s = t_slot;
    if (!s) return;
    Tool* t = g_tool;
    if (t->learner->parallel_begin(s, requested) && t->feedback) apply_advice(t, s);
}

void on_parallel_end(ompt_data_t*, ompt_data_t*, int, const void*) {
    if (ThreadSlot* s = t_slot) g_tool->learner->parallel_end(s);
}

// A re-placement arrived: pin the calling thread to its PUs in the new one.
__attribute__((noinline, cold)) void rebind(ThreadSlot* s, unsigned gen) {
    s->bind_gen = gen;
    if (g_forked_child.load(std::memory_order_relaxed)) return;
    if (const Binder* b = g_binder.load(std::memory_order_acquire); b && b->active())
        (void)b->bind_thread(s->bind_seq);
}

void on_implicit_task(ompt_scope_endpoint_t endpoint, ompt_data_t*, ompt_data_t*,
                      unsigned int actual, unsigned int index, int flags) {
    ThreadSlot* s = t_slot;
    if (!s) return;
    if (endpoint == ompt_scope_begin) {
        unsigned gen = g_bind_gen.load(std::memory_order_acquire);
        // Not at the initial task's begin: that comes right after the initial
        // thread's thread-begin, before libomp sizes its default team.
        if (gen != s->bind_gen && !(flags & ompt_task_initial)) [[unlikely]]
            rebind(s, gen);
    }
    g_tool->learner->implicit_task(s, endpoint, actual, index, flags);
}

void on_sync_region(ompt_sync_region_t kind, ompt_scope_endpoint_t endpoint, ompt_data_t*,
                    ompt_data_t*, const void*) {
    if (ThreadSlot* s = t_slot) g_tool->learner->sync_region(s, kind, endpoint);
}

void on_sync_region_wait(ompt_sync_region_t kind, ompt_scope_endpoint_t endpoint, ompt_data_t*,
                         ompt_data_t*, const void*) {
    if (ThreadSlot* s = t_slot) g_tool->learner->sync_wait_counted(s, kind, endpoint);
}

void on_mutex_acquire(ompt_mutex_t, unsigned int, unsigned int, ompt_wait_id_t, const void*) {
    if (ThreadSlot* s = t_slot) g_tool->learner->mutex_acquire(s);
}

void on_mutex_acquired(ompt_mutex_t kind, ompt_wait_id_t, const void*) {
    if (ThreadSlot* s = t_slot) g_tool->learner->mutex_acquired(s, kind);
}

void on_mutex_released(ompt_mutex_t, ompt_wait_id_t, const void*) {
    if (ThreadSlot* s = t_slot) g_tool->learner->mutex_released(s);
}

void on_work(ompt_work_t wstype, ompt_scope_endpoint_t endpoint, ompt_data_t*, ompt_data_t*,
             uint64_t, const void*) {
    if (ThreadSlot* s = t_slot) g_tool->learner->work(s, wstype, endpoint);
}

void on_task_create(ompt_data_t*, const ompt_frame_t*, ompt_data_t* new_task, int flags, int,
                    const void*) {
    if (Tool* t = g_tool) t->learner->task_create(t_slot, new_task, flags);
}

void on_task_schedule(ompt_data_t*, ompt_task_status_t, ompt_data_t* next_task) {
    if (ThreadSlot* s = t_slot) g_tool->learner->task_schedule(s, next_task);
}

// ---------------------------------------------------------------- lifecycle

struct CallbackSpec {
    ompt_callbacks_t event;
    ompt_callback_t fn;
    const char* name;
    bool required;  // the learning needs it; without it the tool steps aside
};

const CallbackSpec* callback_table(size_t* n) {
    static const CallbackSpec table[] = {
        {ompt_callback_thread_begin, reinterpret_cast<ompt_callback_t>(&on_thread_begin),
         "thread_begin", true},
        {ompt_callback_thread_end, reinterpret_cast<ompt_callback_t>(&on_thread_end), "thread_end",
         true},
        {ompt_callback_parallel_begin, reinterpret_cast<ompt_callback_t>(&on_parallel_begin),
         "parallel_begin", true},
        {ompt_callback_parallel_end, reinterpret_cast<ompt_callback_t>(&on_parallel_end),
         "parallel_end", true},
        {ompt_callback_implicit_task, reinterpret_cast<ompt_callback_t>(&on_implicit_task),
         "implicit_task", true},
        // sync_region is not registered: on_sync_region_wait counts the
        // regions too (Learner::sync_wait_counted), one callback pair less
        // per barrier.
        {ompt_callback_sync_region_wait, reinterpret_cast<ompt_callback_t>(&on_sync_region_wait),
         "sync_region_wait", true},
        {ompt_callback_reduction, reinterpret_cast<ompt_callback_t>(&on_sync_region), "reduction",
         false},
        {ompt_callback_mutex_acquire, reinterpret_cast<ompt_callback_t>(&on_mutex_acquire),
         "mutex_acquire", false},
        {ompt_callback_mutex_acquired, reinterpret_cast<ompt_callback_t>(&on_mutex_acquired),
         "mutex_acquired", false},
        {ompt_callback_mutex_released, reinterpret_cast<ompt_callback_t>(&on_mutex_released),
         "mutex_released", false},
        {ompt_callback_work, reinterpret_cast<ompt_callback_t>(&on_work), "work", false},
        {ompt_callback_task_create, reinterpret_cast<ompt_callback_t>(&on_task_create),
         "task_create", false},
        {ompt_callback_task_schedule, reinterpret_cast<ompt_callback_t>(&on_task_schedule),
         "task_schedule", false},
    };
    *n = sizeof table / sizeof table[0];
    return table;
}

void atfork_child() {
    g_forked_child.store(true);
    if (Tool* t = g_tool) {
        // The helper thread and the daemon connection belong to the parent.
        if (t->feedback) t->feedback->abandon();
    }
}

// Undoes initialize (callbacks, daemon registration, helper thread) and
// forgets the tool; the application continues without it.
void undo(Tool* t) {
    if (t->set_callback)
        for (auto ev : t->registered) t->set_callback(ev, nullptr);
    t->registered.clear();
    g_tool = nullptr;
    g_binder.store(nullptr);
    if (t->feedback) t->feedback->stop(false);
#ifdef VTASOS_OMPT_HAVE_CLIENT
    if (t->session) (void)t->session->release();
#endif
    delete t;
    g_started.store(false);
}

// The learned profile as of now: rates over the time since start-up, measured
// bandwidth when PAPI counts, the gang wish dropped when the daemon said so.
Profile current_profile(Tool* t, const Totals& totals) {
    RunInfo run{
        .exe = t->exe, .wall_s = t->clock.elapsed_s(), .ticks_per_s = t->clock.ticks_per_second()};
    if (t->papi && run.wall_s > 0) {
        double bytes = static_cast<double>(totals.papi_values[0] + totals.papi_values[1]) *
                       PapiCounters::kBytesPerEvent;
        run.bandwidth.gbps = bytes / run.wall_s / 1e9;
        run.bandwidth_source = t->papi->source();
    } else {
        run.bandwidth_source = t->bandwidth_source;
    }
    run.gang_wish_dropped = t->feedback && t->feedback->gang() == 0 && t->request.sched.gang;
    return learned_profile(totals, run, t->choice.profile);
}

// Threads re-bind to `p` at their next implicit-task begin. Runs on the
// helper thread; the caller holds rebinders_mu.
void install_binder(Tool* t, const Placement& p, bool floating) {
    auto b = std::make_unique<Binder>();
    if (auto st = b->set_placement(p, t->request.memory, floating); !st) {
        if (t->cfg.verbose > 0) say("new placement not applied: " + st.error().message());
        return;
    }
    const Binder* raw = b.get();
    t->rebinders.push_back(std::move(b));
    t->placement = p;
    t->floating = floating;
    g_binder.store(raw, std::memory_order_release);
    g_bind_gen.fetch_add(1, std::memory_order_release);
}

// A new placement (re-placement, re-registration).
void publish_placement(Tool* t, const Placement& p) {
    if (!t->cfg.bind) return;
    std::lock_guard<std::mutex> lk(t->rebinders_mu);
    install_binder(t, p, t->floating);
    if (t->cfg.verbose > 0)
        say(fmt::format("placement changed: threads re-bind to {} at their next region",
                        p.to_string()));
}

// The daemon's advice says whether the tenant's PUs are time-shared under the
// kernel scheduler (more demand than PUs and no gang slice of its own): then
// threads float over the whole placement so the kernel can balance them
// against the other tenant; pinned one per PU again when that ends.
void follow_sharing(Tool* t, const Advice& a) {
    if (!t->cfg.bind) return;
    const bool floating = !a.gang && a.node_load > 1.0;
    std::lock_guard<std::mutex> lk(t->rebinders_mu);
    if (floating == t->floating || !t->placement) return;
    install_binder(t, *t->placement, floating);
    if (t->cfg.verbose > 0)
        say(floating ? fmt::format("PUs time-shared (node load {:.2f}, no gang): threads float "
                                   "over {} from their next region",
                                   a.node_load, format_cpulist(t->placement->all_pus()))
                     : "PUs no longer time-shared: threads pinned one per placed CPU again");
}

// Observations for the daemon: the rates, and in the note the raw progress
// counters its bandwidth probe times (hv-backend/daemon/src/probe.h):
// CLOCK_MONOTONIC, process CPU time, regions + barrier and loop instances.
std::string observations_json(Tool* t) {
    Totals totals = t->learner->reduce();
    Profile p = current_profile(t, totals);
    timespec cpu{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    uint64_t cpu_us =
        static_cast<uint64_t>(cpu.tv_sec) * 1000000u + static_cast<uint64_t>(cpu.tv_nsec) / 1000u;
    uint64_t progress =
        totals.regions + totals.barrier_instances() + totals.work_instances[kWorkLoop];
    p.note = fmt::format("t_us={} cpu_us={} progress={}", monotonic_ns() / 1000, cpu_us, progress);
    return p.to_json().dump();
}

// The matched profile's rates as the first observations (FeedbackLoop's
// initial_observations), so `auto` need not wait for a measurement to treat a
// known code; "" when the profile has no rates (default, unknown code). The
// measured observations replace it from the first update on.
//
// Not before a worker thread has begun: libomp initialises its affinity when
// the first parallel region forks, binding the initial thread to each PU in
// turn to read the topology, and aborts ("OMP: System error #22") when a PU
// leaves the process's cpuset meanwhile, as a share re-placement at once
// would do. Workers begin only after that.
std::string profile_observations_json(const Tool* t) {
    if (t->bind_seq.load(std::memory_order_relaxed) < 2) return {};
    const Profile& base = t->choice.profile;
    if (!t->choice.known ||
        (base.barrier_rate_hz <= 0 && base.sync_fraction <= 0 && base.region_rate_hz <= 0))
        return {};
    Profile p = base;
    p.note = "profile " + base.name + " (" + t->choice.source + "), before any measurement";
    return p.to_json().dump();
}

void connect_daemon(Tool* t, std::string* state) {
    if (t->cfg.fake_advice) {
        Tool* tool = t;
        t->feedback = std::make_unique<FeedbackLoop>(
            std::make_unique<FileAdviceSource>(
                *t->cfg.fake_advice, [tool](const Placement& p) { publish_placement(tool, p); }),
            FeedbackLoop::Options{
                .verbose = t->cfg.verbose,
                .on_advice = [tool](const Advice& a) { follow_sharing(tool, a); }},
            nullptr);
        *state = "advice from file " + *t->cfg.fake_advice + " (VTASOS_OMPT_FAKE_ADVICE)";
        return;
    }
    // An MPI rank placed by the Open MPI hook (pmix-plugin/include/vtasos/mpi/share.h):
    // the job tenant already holds this process, so bind to the rank's share
    // instead of registering a second time.
    if (const char* share = getenv("VTASOS_MPI_SHARE"); share && *share) {
        auto j = nlohmann::json::parse(share, nullptr, /*allow_exceptions=*/false);
        auto placement = j.is_discarded()
                             ? Result<Placement>(Error(Errc::kInvalidArgument, "not valid JSON"))
                             : Placement::from_json(j);
        if (!placement || placement->cpus.empty()) {
            *state = "monitoring only: VTASOS_MPI_SHARE is unusable (" +
                     (placement ? std::string("no cpus") : placement.error().message()) + ")";
            return;
        }
        std::string bind_state = "not bound (VTASOS_BIND=0)";
        if (t->cfg.bind) {
            auto st = t->binder.set_placement(*placement, t->request.memory);
            bind_state = st ? fmt::format("threads bound to {}", placement->to_string())
                            : "not bound: " + st.error().message();
            if (st) g_binder.store(&t->binder, std::memory_order_release);
        }
        *state = fmt::format("MPI rank share of tenant {}; {}", placement->tenant, bind_state);
        return;
    }
#ifdef VTASOS_OMPT_HAVE_CLIENT
    std::string tenant = fmt::format("{}-{}", profile_name_for(t->exe).substr(0, 50), t->pid);
    t->request = request_from_profile(t->choice.profile, tenant, default_team_size());
    // request_from_profile derives sched.gang from the profile's rates; sent
    // as a wish it would override the daemon's own decision (auto policy:
    // shrink or gang, from the same rates measured live). Only the profile's
    // explicit `gang` is a wish.
    t->request.sched.gang = t->choice.profile.gang.value_or(false);
    bool attach = false;
    Result<std::unique_ptr<DaemonLink>> link = Error(Errc::kUnavailable, "not tried");
    if (t->cfg.tenant) {
        // Started by `vtasosctl run` (or a user who names the tenant): that
        // tenant holds this process; report and follow advice for it.
        link = DaemonLink::attach(t->cfg.socket, *t->cfg.tenant, kConnectTimeoutMs);
        if (link) {
            attach = true;
            tenant = *t->cfg.tenant;
            t->request.tenant = tenant;
            t->request.cpus = static_cast<int>((*link)->placement().cpus.size());
        } else if (link.error().code() == Errc::kNotFound) {
            if (t->cfg.verbose > 0)
                say(link.error().message() + "; registering a tenant of its own");
        }
    }
    if (!attach) link = DaemonLink::open(t->cfg.socket, tenant, t->request, kConnectTimeoutMs);
    if (!link) {
        // No daemon at start-up: monitor only, no helper thread (an
        // application that never had a daemon pays nothing for reconnecting).
        *state = link.error().code() == Errc::kUnavailable
                     ? "monitoring only: no vtasosd at " +
                           (t->cfg.socket ? *t->cfg.socket : std::string(vtasos_default_socket()))
                     : "monitoring only: " + link.error().message();
        return;
    }
    std::string bind_state = "not bound (VTASOS_BIND=0)";
    std::string where = fmt::format("tenant {} at {}", tenant, (*link)->socket());
    if (t->cfg.bind) {
        auto st = t->binder.set_placement((*link)->placement(), t->request.memory);
        bind_state = st ? fmt::format("threads bound to {}", (*link)->placement().to_string())
                        : "not bound: " + st.error().message();
        if (st) {
            t->placement = (*link)->placement();
            g_binder.store(&t->binder, std::memory_order_release);
        }
    }
    Tool* tool = t;
    auto session =
        std::make_unique<DaemonSession>(std::move(link).value(),
                                        DaemonSession::Options{.socket = t->cfg.socket,
                                                               .tenant = tenant,
                                                               .request = t->request,
                                                               .timeout_ms = kConnectTimeoutMs,
                                                               .verbose = t->cfg.verbose,
                                                               .attach = attach},
                                        [tool](const Placement& p) { publish_placement(tool, p); });
    t->session = session.get();
    t->feedback = std::make_unique<FeedbackLoop>(
        std::move(session),
        FeedbackLoop::Options{
            .verbose = t->cfg.verbose,
            .initial_observations = [tool] { return profile_observations_json(tool); },
            .on_advice = [tool](const Advice& a) { follow_sharing(tool, a); }},
        [tool] { return observations_json(tool); });
    *state = fmt::format("{}; {}", where, bind_state);
#else
    *state = "monitoring only (built without the vtasos client library)";
#endif
}

int tool_initialize(ompt_function_lookup_t lookup, int initial_device_num, ompt_data_t* tool_data) {
    Tool* t = static_cast<Tool*>(tool_data->ptr);
    if (!t) return 0;
    try {
        t->set_callback = reinterpret_cast<ompt_set_callback_t>(lookup("ompt_set_callback"));
        if (!t->set_callback) {
            if (t->cfg.verbose > 0) say("runtime offers no ompt_set_callback; tool disabled");
            undo(t);
            return 0;
        }
        t->set_num_threads = runtime_symbol<void (*)(int)>(lookup, "omp_set_num_threads");
        t->get_max_threads = runtime_symbol<int (*)()>(lookup, "omp_get_max_threads");
        t->pid = getpid();
        t->exe = executable_name();
        long cpus = sysconf(_SC_NPROCESSORS_CONF);
        t->learner = std::make_unique<Learner>(
            static_cast<size_t>(std::clamp<long>(4 * std::max(cpus, 1L), 256, 8192)));

        uint64_t ns0 = monotonic_ns();
        t->choice = choose_profile(t->cfg.profile, t->exe, profile_dirs());
        for (const auto& w : t->choice.warnings) say(w);
        uint64_t ns1 = monotonic_ns();

        std::string why;
        t->papi = PapiCounters::open(&why);
        t->bandwidth_source = t->papi ? t->papi->source() : why;
        uint64_t ns2 = monotonic_ns();

        std::string daemon_state;
        connect_daemon(t, &daemon_state);
        uint64_t ns3 = monotonic_ns();
        if (t->cfg.verbose > 1)
            say(fmt::format("start-up: profiles {:.2f} ms, papi {:.2f} ms, daemon {:.2f} ms",
                            (ns1 - ns0) * 1e-6, (ns2 - ns1) * 1e-6, (ns3 - ns2) * 1e-6));

        // Register; a required event the runtime cannot deliver: step aside.
        g_tool = t;
        size_t n = 0;
        const CallbackSpec* table = callback_table(&n);
        for (size_t i = 0; i < n; ++i) {
            ompt_set_result_t r = t->set_callback(table[i].event, table[i].fn);
            bool usable =
                r == ompt_set_always || r == ompt_set_sometimes || r == ompt_set_sometimes_paired;
            if (usable) t->registered.push_back(table[i].event);
            if (!usable && table[i].required) {
                if (t->cfg.verbose > 0)
                    say(fmt::format("callback {} not available: {}; tool disabled", table[i].name,
                                    set_result_name(r)));
                undo(t);
                return 0;
            }
            if (!usable && t->cfg.verbose > 1)
                say(fmt::format("optional callback {} not available: {}", table[i].name,
                                set_result_name(r)));
            if (r != ompt_set_always && usable && t->cfg.verbose > 1)
                say(fmt::format("callback {}: {}", table[i].name, set_result_name(r)));
        }

        static std::atomic<bool> atfork_done{false};
        if (!atfork_done.exchange(true)) pthread_atfork(nullptr, nullptr, &atfork_child);
        if (t->feedback) t->feedback->start();
        if (t->cfg.verbose > 0)
            say(fmt::format("{}; profile {} ({}); bandwidth {}", daemon_state,
                            t->choice.profile.name, t->choice.source,
                            t->papi ? t->papi->source() : "unknown: " + why));
        return 1;
    } catch (const std::exception& e) {
        if (t->cfg.verbose > 0) say(fmt::format("initialize failed: {}; tool disabled", e.what()));
    } catch (...) {
        if (t->cfg.verbose > 0) say("initialize failed; tool disabled");
    }
    undo(t);
    return 0;
}

void write_profile(const Profile& p, const std::string& path) {
    std::string text = p.to_json().dump(2) + "\n";
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
        say(fmt::format("cannot write profile to VTASOS_PROFILE_OUT={}: {}", path,
                        std::strerror(errno)));
        return;
    }
    size_t w = std::fwrite(text.data(), 1, text.size(), f);
    int close_rc = std::fclose(f);
    if (w != text.size() || close_rc != 0)
        say(fmt::format("cannot write profile to VTASOS_PROFILE_OUT={}: {}", path,
                        std::strerror(errno ? errno : EIO)));
}

void tool_finalize(ompt_data_t* tool_data) {
    Tool* t = g_tool;
    if (!t || t != tool_data->ptr) return;
    if (t->finalized.exchange(true)) return;                  // called twice
    if (g_forked_child.load() || getpid() != t->pid) return;  // the parent finalizes
    try {
        if (t->feedback) t->feedback->stop(/*final_update=*/true);
        Profile p = current_profile(t, t->learner->reduce());
        if (t->cfg.profile_out) write_profile(p, *t->cfg.profile_out);
        if (t->cfg.verbose > 1) {
            say(p.to_string());
            if (t->feedback)
                say(fmt::format("advice: {} polls, last team size applied {}", t->feedback->polls(),
                                t->last_applied_threads.load()));
        }
#ifdef VTASOS_OMPT_HAVE_CLIENT
        if (t->session) {
            auto st = t->session->release();
            if (!st && t->cfg.verbose > 1) say(st.error().message());
        }
#endif
    } catch (const std::exception& e) {
        if (t->cfg.verbose > 0) say(fmt::format("finalize: {}", e.what()));
    } catch (...) {
    }
    // The Tool stays allocated: a late callback from a thread the runtime
    // has not joined yet must still find valid memory.
}

}  // namespace
}  // namespace vtasos::ompt

extern "C" ompt_start_tool_result_t* ompt_start_tool(unsigned int omp_version,
                                                     const char* runtime_version) {
    using namespace vtasos::ompt;
    static ompt_start_tool_result_t result;
    try {
        ParsedConfig pc = parse_config_from_environ();
        for (const auto& w : pc.warnings) say(w);
        if (!pc.config.enabled) {
            if (pc.config.verbose > 0) say("disabled by VTASOS_OMPT=0; another tool may load");
            return nullptr;
        }
        if (g_forked_child.load()) {
            if (pc.config.verbose > 0) say("not restarted in a forked child");
            return nullptr;
        }
        if (g_started.exchange(true)) {
            if (pc.config.verbose > 0) say("already active in this process; not loaded twice");
            return nullptr;
        }
        auto* t = new Tool();
        t->cfg = pc.config;
        result.initialize = &tool_initialize;
        result.finalize = &tool_finalize;
        result.tool_data.ptr = t;
        (void)omp_version;
        (void)runtime_version;
        return &result;
    } catch (...) {
        return nullptr;  // out of memory at start-up: run without the tool
    }
}
