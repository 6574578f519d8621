// What the component does at init-bottom and finalize-top (see hook_vtasos.h).
// clang-format off
// Open MPI's ompi_config.h must come first (hook_vtasos.h / hook.h include it).
#include "hook_vtasos.h"
// clang-format on

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "../internal/binding.h"
#include "../internal/client_transport.h"
#include "../internal/config.h"
#include "../internal/facts.h"
#include "../internal/session.h"
#include "pmix_facts.h"

namespace vtasos::mpi {
namespace {

// The one session of this process (MPI_Init happens once).
std::unique_ptr<Session> g_session;

void print(int rank, const std::string& msg) {
    // One write so lines of different ranks do not interleave.
    std::string line = "[vtasos hook, rank " + std::to_string(rank) + "] " + msg + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void hook_init_bottom(int, char**, int, int*) {
    if (!component_state().active || g_session) return;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        HookConfig cfg = validate(current_params());
        RankFacts facts;
        std::string pmix_why;
        (void)read_pmix_facts(facts, &pmix_why);
        fill_from_env(
            facts, [](const char* n) { return std::getenv(n); }, static_cast<int>(::getpid()));
        const int rank = facts.rank;
        const int verbose = cfg.verbose;
        if (facts.local_rank <= 0)
            for (const auto& w : cfg.warnings) print(rank, w);
        if (verbose >= 2 && !pmix_why.empty())
            print(rank, "facts from the environment: " + pmix_why);

        auto allowed = allowed_cpus();
        SessionDeps deps;
        deps.connect = [](const std::string& socket, int timeout_ms) {
            return ClientTransport::connect(socket, timeout_ms);
        };
        deps.bind = [](const std::vector<int>& pus) { return bind_process(pus); };
        deps.setenv = [](const char* n, const char* v) { ::setenv(n, v, 1); };
        deps.unsetenv = [](const char* n) { ::unsetenv(n); };
        deps.say = [rank, verbose](int level, const std::string& m) {
            if (level <= verbose) print(rank, m);
        };
        deps.default_socket = default_socket();
        deps.binding = detect_binding(current_affinity(), allowed,
                                      std::getenv("OMPI_MCA_orte_bound_at_launch"));
        deps.usable_pus = static_cast<int>(allowed.size());
        deps.pid = ::getpid();
        deps.omp_num_threads = std::getenv("OMP_NUM_THREADS");
        g_session = std::make_unique<Session>(std::move(cfg), std::move(facts), std::move(deps));
        g_session->start();
        if (verbose >= 2) {
            double ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
            print(rank, "init-bottom took " + std::to_string(ms) + " ms");
        }
    } catch (...) {
        // Never take MPI_Init down: run without placement.
        g_session.reset();
    }
}

void hook_finalize_top() {
    if (!g_session) return;
    try {
        g_session->finish();
    } catch (...) {
    }
    g_session.reset();
}

}  // namespace vtasos::mpi
