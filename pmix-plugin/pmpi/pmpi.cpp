// libvtasos-pmpi: the MPI synchronisation profile (README.md "PMPI library").
//
// Every wrapper is generated from calls.def: the C MPI_<Name> (timed, then
// PMPI_<Name>) and four Fortran entry points per call (mpi_x_, mpi_x__, mpi_x
// for mpif.h and `use mpi`, mpi_x_f08_ for `use mpi_f08`), which time the call
// and forward to Open MPI's own pmpi_x_ / pmpi_x_f08_ (looked up once, so a
// C program never needs the Fortran libraries). Counters are per call, in
// cache-line slots, updated with relaxed atomics: MPI_THREAD_MULTIPLE safe.
//
// At MPI_Finalize (before PMPI_Finalize) the rank's report goes to
//   - vtasosd, as an "update" of the tenant the hook published
//     (VTASOS_MPI_TENANT, vtasos/mpi/share.h), when there is one;
//   - VTASOS_PMPI_OUT (a path; %r = rank, %p = pid) as JSON;
//   - stderr as one line with VTASOS_PMPI_VERBOSE=1.
// With VTASOS_PMPI_INTERVAL=S (> 0) the update is also sent every S seconds,
// from whichever MPI call ends first after the interval; the first one goes
// out after at most 0.2 s, because the daemon's `auto` policy decides from it
// and a longer wait costs short jobs their whole benefit (as the OMPT tool's
// first update).
// VTASOS_PMPI=0 turns the library into plain forwarding.
#include <dlfcn.h>
#include <mpi.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

#include "stats.h"
#include "vtasos/mpi/share.h"
#ifdef VTASOS_PMPI_HAVE_CLIENT
#include "vtasos/client.h"
#endif

namespace vtasos::pmpi {
namespace {

enum CallId : int {
#define VTASOS_MPI_CALL(Name, lower, cat, nf, params, args) k##Name,
#include "calls.def"
#undef VTASOS_MPI_CALL
    kCallCount
};

struct CallInfo {
    const char* name;
    Category category;
};
constexpr CallInfo kInfo[] = {
#define VTASOS_MPI_CALL(Name, lower, cat, nf, params, args) {#Name, Category::cat},
#include "calls.def"
#undef VTASOS_MPI_CALL
};
static_assert(sizeof kInfo / sizeof kInfo[0] == kCallCount);

struct alignas(64) Slot {
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> ns{0};
    std::atomic<uint64_t> fortran{0};
};
Slot g_slots[kCallCount];

inline uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Config {
    bool enabled = true;
    int verbose = 0;
    std::string out;
    uint64_t interval_ns = 0;
};

Config read_config() {
    Config c;
    if (const char* v = std::getenv("VTASOS_PMPI")) c.enabled = std::strcmp(v, "0") != 0;
    if (const char* v = std::getenv("VTASOS_PMPI_VERBOSE")) c.verbose = std::atoi(v);
    if (const char* v = std::getenv("VTASOS_PMPI_OUT")) c.out = v;
    if (const char* v = std::getenv("VTASOS_PMPI_INTERVAL")) {
        char* end = nullptr;
        double s = std::strtod(v, &end);
        if (end != v && s > 0 && s < 1e6) c.interval_ns = static_cast<uint64_t>(s * 1e9);
    }
    return c;
}

struct State {
    Config cfg;
    std::atomic<bool> started{false};
    uint64_t t0 = 0;
    int rank = -1;
    int size = 0;
    std::atomic<uint64_t> next_send{UINT64_MAX};
    std::atomic<bool> sending{false};
    std::atomic<bool> daemon_gone{false};
    std::atomic<bool> finalized{false};
};
State g;

void say(const std::string& m) {
    std::string line = "[vtasos pmpi] " + m + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

Report snapshot() {
    Report r;
    r.rank = g.rank;
    r.size = g.size;
    if (const char* t = std::getenv(VTASOS_MPI_ENV_TENANT)) r.tenant = t;
    r.wall_s = g.t0 ? static_cast<double>(now_ns() - g.t0) * 1e-9 : 0.0;
    for (int i = 0; i < kCallCount; ++i) {
        CallCount c;
        c.name = kInfo[i].name;
        c.category = kInfo[i].category;
        c.count = g_slots[i].count.load(std::memory_order_relaxed);
        c.ns = g_slots[i].ns.load(std::memory_order_relaxed);
        c.fortran = g_slots[i].fortran.load(std::memory_order_relaxed);
        r.calls.push_back(std::move(c));
    }
    return r;
}

// Sends the observations to the tenant's daemon; false when there is none.
bool send_update(const Report& r) {
#ifdef VTASOS_PMPI_HAVE_CLIENT
    if (r.tenant.empty() || g.daemon_gone.load()) return false;
    const char* sock = std::getenv(VTASOS_MPI_ENV_SOCKET);
    vtasos_client* c = nullptr;
    if (vtasos_connect(sock && *sock ? sock : nullptr, 500, &c) != VTASOS_OK) {
        g.daemon_gone = true;
        if (g.cfg.verbose) say("no vtasosd to send the profile to");
        return false;
    }
    int rc = vtasos_update(c, r.tenant.c_str(), r.observations().dump().c_str());
    if (rc != VTASOS_OK && g.cfg.verbose)
        say(std::string("update of ") + r.tenant + ": " + vtasos_last_error(c));
    vtasos_close(c);
    return rc == VTASOS_OK;
#else
    (void)r;
    return false;
#endif
}

void on_init() {
    g.cfg = read_config();
    if (!g.cfg.enabled) return;
    int flag = 0;
    PMPI_Initialized(&flag);
    if (!flag) return;
    PMPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    PMPI_Comm_size(MPI_COMM_WORLD, &g.size);
    g.t0 = now_ns();
    constexpr uint64_t kFirstSendNs = 200'000'000;
    if (g.cfg.interval_ns) g.next_send = g.t0 + std::min(g.cfg.interval_ns, kFirstSendNs);
    g.started = true;
}

void on_finalize() {
    if (!g.started.load() || g.finalized.exchange(true)) return;
    Report r = snapshot();
    bool sent = send_update(r);
    if (!g.cfg.out.empty()) {
        std::string path = expand_path(g.cfg.out, r.rank, static_cast<int>(::getpid()));
        std::ofstream f(path);
        nlohmann::json j = r.to_json();
        j["sent_to_daemon"] = sent;
        if (f)
            f << j.dump(1) << "\n";
        else
            say("cannot write " + path);
    }
    if (g.cfg.verbose) say(r.summary() + (sent ? "; sent to vtasosd" : ""));
}

void maybe_periodic(uint64_t t) {
    uint64_t due = g.next_send.load(std::memory_order_relaxed);
    if (t < due) return;
    if (g.sending.exchange(true)) return;
    g.next_send = t + g.cfg.interval_ns;
    if (!g.finalized.load()) (void)send_update(snapshot());
    g.sending = false;
}

template <int Id>
struct Timed {
    uint64_t t0;
    explicit Timed(bool fortran) {
        if constexpr (Id == kFinalize) on_finalize();
        if (fortran) g_slots[Id].fortran.fetch_add(1, std::memory_order_relaxed);
        t0 = now_ns();
    }
    ~Timed() {
        uint64_t t1 = now_ns();
        g_slots[Id].count.fetch_add(1, std::memory_order_relaxed);
        g_slots[Id].ns.fetch_add(t1 - t0, std::memory_order_relaxed);
        if constexpr (Id == kInit || Id == kInit_thread)
            on_init();
        else if constexpr (kInfo[Id].category != Category::kLife)
            maybe_periodic(t1);
    }
};

// Fortran targets, resolved on first use.
void* resolve(const char* name, std::atomic<void*>& cache) {
    void* p = cache.load(std::memory_order_acquire);
    if (p) return p;
    p = dlsym(RTLD_DEFAULT, name);
    if (!p) {
        say(std::string("cannot find ") + name + " (is the Open MPI Fortran library loaded?)");
        std::abort();
    }
    cache.store(p, std::memory_order_release);
    return p;
}

}  // namespace
}  // namespace vtasos::pmpi

using vtasos::pmpi::Timed;

// ---------------------------------------------------------------- C wrappers
#define VTASOS_MPI_CALL(Name, lower, cat, nf, params, args)                   \
    extern "C" __attribute__((visibility("default"))) int MPI_##Name params { \
        Timed<vtasos::pmpi::k##Name> t(false);                                \
        return PMPI_##Name args;                                              \
    }
#include "calls.def"
#undef VTASOS_MPI_CALL

// ---------------------------------------------------------- Fortran wrappers
#define VT_FP1 void* a0
#define VT_FP2 VT_FP1, void* a1
#define VT_FP3 VT_FP2, void* a2
#define VT_FP4 VT_FP3, void* a3
#define VT_FP5 VT_FP4, void* a4
#define VT_FP6 VT_FP5, void* a5
#define VT_FP7 VT_FP6, void* a6
#define VT_FP8 VT_FP7, void* a7
#define VT_FP9 VT_FP8, void* a8
#define VT_FP10 VT_FP9, void* a9
#define VT_FP11 VT_FP10, void* a10
#define VT_FP12 VT_FP11, void* a11
#define VT_FP13 VT_FP12, void* a12
#define VT_FA1 a0
#define VT_FA2 VT_FA1, a1
#define VT_FA3 VT_FA2, a2
#define VT_FA4 VT_FA3, a3
#define VT_FA5 VT_FA4, a4
#define VT_FA6 VT_FA5, a5
#define VT_FA7 VT_FA6, a6
#define VT_FA8 VT_FA7, a7
#define VT_FA9 VT_FA8, a8
#define VT_FA10 VT_FA9, a9
#define VT_FA11 VT_FA10, a10
#define VT_FA12 VT_FA11, a11
#define VT_FA13 VT_FA12, a12
#define VT_FT1 void*
#define VT_FT2 VT_FT1, void*
#define VT_FT3 VT_FT2, void*
#define VT_FT4 VT_FT3, void*
#define VT_FT5 VT_FT4, void*
#define VT_FT6 VT_FT5, void*
#define VT_FT7 VT_FT6, void*
#define VT_FT8 VT_FT7, void*
#define VT_FT9 VT_FT8, void*
#define VT_FT10 VT_FT9, void*
#define VT_FT11 VT_FT10, void*
#define VT_FT12 VT_FT11, void*
#define VT_FT13 VT_FT12, void*

// One Fortran entry point `sym` forwarding to Open MPI's `target`.
#define VT_FORTRAN_ENTRY(Name, sym, target, nf)                             \
    extern "C" __attribute__((visibility("default"))) void sym(VT_FP##nf) { \
        static std::atomic<void*> cache{nullptr};                           \
        using Fn = void (*)(VT_FT##nf);                                     \
        Fn fn = reinterpret_cast<Fn>(vtasos::pmpi::resolve(target, cache)); \
        Timed<vtasos::pmpi::k##Name> t(true);                               \
        fn(VT_FA##nf);                                                      \
    }

#define VTASOS_MPI_CALL(Name, lower, cat, nf, params, args)         \
    VT_FORTRAN_ENTRY(Name, mpi_##lower##_, "pmpi_" #lower "_", nf)  \
    VT_FORTRAN_ENTRY(Name, mpi_##lower##__, "pmpi_" #lower "_", nf) \
    VT_FORTRAN_ENTRY(Name, mpi_##lower, "pmpi_" #lower "_", nf)     \
    VT_FORTRAN_ENTRY(Name, mpi_##lower##_f08_, "pmpi_" #lower "_f08_", nf)
#include "calls.def"
#undef VTASOS_MPI_CALL
