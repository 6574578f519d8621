// Session: what the hook does for one rank between MPI_Init and MPI_Finalize.
//
// start() runs at init-bottom: decide whether to act (mpirun's binding,
// hook_vtasos_binding), connect to the node's vtasosd, join the job tenant,
// bind the rank to its share and publish the share (vtasos/mpi/share.h).
// finish() runs at finalize-top and gives the share back. Neither throws,
// aborts or waits past the configured timeout: every failure ends in "no
// placement" and one message at verbose >= 1. All effects go through
// SessionDeps, so tests drive it with fakes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binding.h"
#include "config.h"
#include "facts.h"
#include "job.h"

namespace vtasos::mpi {

struct SessionDeps {
    // Opens a connection; errors kUnavailable (no daemon), kTimeout, ...
    std::function<Result<std::unique_ptr<Transport>>(const std::string& socket, int timeout_ms)>
        connect;
    std::function<Result<int>(const std::vector<int>& pus)> bind;
    std::function<void(const char* name, const char* value)> setenv;
    std::function<void(const char* name)> unsetenv;
    // level 0 = always (warnings, the respect explanation), 1 = one line per rank, 2 = details
    std::function<void(int level, const std::string& msg)> say;
    std::string default_socket;  // for messages
    BindingState binding;        // detected at init
    int usable_pus = 0;          // CPUs the job may use on this node (0 = unknown)
    pid_t pid = 0;
    const char* omp_num_threads = nullptr;
    JoinClock clock;
};

enum class Outcome {
    kPlaced,      // bound to the share
    kRegistered,  // placed but not bound (bind failed)
    kRespected,   // mpirun bound the ranks and binding=respect: left alone
    kNoDaemon,    // no vtasosd at the socket
    kFailed,      // timeout, refusal, protocol error
};
std::string_view to_string(Outcome o);

class Session {
public:
    Session(HookConfig cfg, RankFacts facts, SessionDeps deps);
    Outcome start();
    void finish();
    Outcome outcome() const { return outcome_; }
    const std::optional<Share>& share() const { return share_; }
    const std::string& summary() const { return summary_; }
    int threads() const { return threads_; }

private:
    HookConfig cfg_;
    RankFacts facts_;
    SessionDeps deps_;
    Outcome outcome_ = Outcome::kFailed;
    std::optional<Share> share_;
    std::string summary_;
    std::string socket_;
    int threads_ = 1;
    bool finished_ = false;
};

}  // namespace vtasos::mpi
