#include "papi.h"

#include <dlfcn.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#if __has_include(<papi.h>)
#include <papi.h>
#define VTASOS_HAVE_PAPI_H 1
#endif

namespace vtasos::ompt {

#ifdef VTASOS_HAVE_PAPI_H

struct PapiCounters::Api {
    void* handle = nullptr;
    int (*library_init)(int) = nullptr;
    int (*thread_init)(unsigned long (*)(void)) = nullptr;
    int (*create_eventset)(int*) = nullptr;
    int (*add_named_event)(int, const char*) = nullptr;
    int (*start)(int) = nullptr;
    int (*stop)(int, long long*) = nullptr;
    int (*cleanup_eventset)(int) = nullptr;
    int (*destroy_eventset)(int*) = nullptr;
    int (*unregister_thread)(void) = nullptr;
    char* (*strerror)(int) = nullptr;
    ~Api() {
        // libpapi stays loaded: other threads may still be inside it at exit.
    }
};

namespace {

unsigned long thread_id() { return static_cast<unsigned long>(pthread_self()); }

const char* const kEventSets[][2] = {
    {"PAPI_L3_TCM", nullptr},
    {"perf::LLC-LOAD-MISSES", "perf::LLC-STORE-MISSES"},
    {"perf::CACHE-MISSES", nullptr},
};

template <typename F>
bool load(void* h, const char* name, F* out) {
    *out = reinterpret_cast<F>(dlsym(h, name));
    return *out != nullptr;
}

}  // namespace

static bool hardware_pmu(std::string* why_not) {
    // PAPI's start-up costs 10-20 ms; a machine without a hardware PMU (most
    // VMs) is recognised for ~20 us by asking the kernel for one cache-miss counter.
    perf_event_attr a;
    std::memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_HARDWARE;
    a.config = PERF_COUNT_HW_CACHE_MISSES;
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    if (fd >= 0) {
        close(static_cast<int>(fd));
        return true;
    }
    int err = errno;
    if (err == ENOENT || err == EOPNOTSUPP || err == ENODEV)
        *why_not = "no hardware counters (the kernel has no hardware PMU)";
    else
        *why_not =
            std::string("no hardware counters (perf_event_open: ") + std::strerror(err) + ")";
    return false;
}

std::unique_ptr<PapiCounters> PapiCounters::open(std::string* why_not, bool probe_pmu) {
    if (probe_pmu && !hardware_pmu(why_not)) return nullptr;
    auto api = std::make_unique<Api>();
    for (const char* lib : {"libpapi.so.7.0", "libpapi.so.7", "libpapi.so"}) {
        api->handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (api->handle) break;
    }
    if (!api->handle) {
        *why_not = "libpapi not found";
        return nullptr;
    }
    void* h = api->handle;
    if (!load(h, "PAPI_library_init", &api->library_init) ||
        !load(h, "PAPI_thread_init", &api->thread_init) ||
        !load(h, "PAPI_create_eventset", &api->create_eventset) ||
        !load(h, "PAPI_add_named_event", &api->add_named_event) ||
        !load(h, "PAPI_start", &api->start) || !load(h, "PAPI_stop", &api->stop) ||
        !load(h, "PAPI_cleanup_eventset", &api->cleanup_eventset) ||
        !load(h, "PAPI_destroy_eventset", &api->destroy_eventset) ||
        !load(h, "PAPI_unregister_thread", &api->unregister_thread) ||
        !load(h, "PAPI_strerror", &api->strerror)) {
        *why_not = "libpapi lacks a needed function";
        return nullptr;
    }
    int v = api->library_init(PAPI_VER_CURRENT);
    if (v != PAPI_VER_CURRENT) {
        *why_not = "PAPI_library_init failed (version " + std::to_string(v) + ")";
        return nullptr;
    }
    if (api->thread_init(&thread_id) != PAPI_OK) {
        *why_not = "PAPI_thread_init failed";
        return nullptr;
    }
    std::string last_error = "no hardware counters: none of";
    std::string tried;
    for (const auto& set : kEventSets) {
        int es = PAPI_NULL;
        if (api->create_eventset(&es) != PAPI_OK) {
            *why_not = "PAPI_create_eventset failed";
            return nullptr;
        }
        std::vector<std::string> names;
        bool ok = true;
        for (const char* ev : set) {
            if (!ev) continue;
            int rc = api->add_named_event(es, ev);
            if (rc != PAPI_OK) {
                const char* msg = api->strerror(rc);
                tried += std::string(" ") + ev + " (" + (msg ? msg : "error") + ")";
                ok = false;
                break;
            }
            names.push_back(ev);
        }
        if (ok && api->start(es) == PAPI_OK) {
            long long vals[2] = {0, 0};
            api->stop(es, vals);
            api->cleanup_eventset(es);
            api->destroy_eventset(&es);
            auto pc = std::unique_ptr<PapiCounters>(new PapiCounters());
            pc->events_ = names;
            pc->source_ = "papi:";
            for (size_t i = 0; i < names.size(); ++i) pc->source_ += (i ? "+" : "") + names[i];
            pc->api_ = std::move(api);
            return pc;
        }
        if (ok) tried += std::string(" ") + set[0] + " (PAPI_start failed)";
        api->cleanup_eventset(es);
        api->destroy_eventset(&es);
    }
    *why_not = last_error + tried;
    return nullptr;
}

PapiCounters::~PapiCounters() = default;

int PapiCounters::start_thread() noexcept {
    int es = PAPI_NULL;
    if (api_->create_eventset(&es) != PAPI_OK) return -1;
    for (const auto& e : events_) {
        if (api_->add_named_event(es, e.c_str()) != PAPI_OK) {
            api_->cleanup_eventset(es);
            api_->destroy_eventset(&es);
            return -1;
        }
    }
    if (api_->start(es) != PAPI_OK) {
        api_->cleanup_eventset(es);
        api_->destroy_eventset(&es);
        return -1;
    }
    return es;
}

void PapiCounters::stop_thread(int eventset, uint64_t values[2]) noexcept {
    if (eventset < 0) return;
    long long v[2] = {0, 0};
    if (api_->stop(eventset, v) == PAPI_OK) {
        for (size_t i = 0; i < events_.size() && i < 2; ++i)
            values[i] += v[i] > 0 ? static_cast<uint64_t>(v[i]) : 0;
    }
    api_->cleanup_eventset(eventset);
    api_->destroy_eventset(&eventset);
    api_->unregister_thread();
}

#else  // no papi.h at build time

struct PapiCounters::Api {};
std::unique_ptr<PapiCounters> PapiCounters::open(std::string* why_not, bool probe_pmu) {
    *why_not = "built without papi.h";
    return nullptr;
}
PapiCounters::~PapiCounters() = default;
int PapiCounters::start_thread() noexcept { return -1; }
void PapiCounters::stop_thread(int, uint64_t*) noexcept {}

#endif

}  // namespace vtasos::ompt
