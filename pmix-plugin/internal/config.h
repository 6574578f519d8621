// HookConfig: the hook's MCA parameters (hook_vtasos_*) after validation.
//
// Open MPI hands the component raw strings and integers; validate() turns them
// into a HookConfig and one warning per bad value, each naming the parameter,
// the value, what was expected and the fallback used. A bad value never stops
// MPI_Init: it is replaced by its default and reported once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vtasos::mpi {

// hook_vtasos_enable
enum class Enable {
    kAuto,  // active when the hook framework selection names vtasos (--mca hook vtasos)
    kYes,   // active whenever the component is loaded (e.g. installed system-wide)
    kNo,    // never active
};

// hook_vtasos_binding: what to do when mpirun already bound the ranks.
enum class Binding {
    kTakeover,  // re-bind each rank to its vtasos share (mpirun's binding is replaced)
    kRespect,   // keep mpirun's binding, do not register; explain --bind-to none
};

// The values exactly as Open MPI holds them (strings are "" when unset).
struct RawParams {
    std::string enable = "auto";
    std::string socket;
    std::string profile;
    std::string binding = "takeover";
    int threads_per_rank = 0;
    int verbose = 0;
    int timeout_ms = 3000;
};

struct HookConfig {
    Enable enable = Enable::kAuto;
    std::string socket;   // "" = the client library's default socket
    std::string profile;  // "" = let the daemon choose (profile matching the executable)
    Binding binding = Binding::kTakeover;
    int threads_per_rank = 0;  // 0 = OMP_NUM_THREADS, else 1
    int verbose = 0;           // 0 quiet, 1 one line per rank, 2 details
    int timeout_ms = 3000;     // connect + all local ranks arrived, in total
    std::vector<std::string> warnings;
};

inline constexpr int kMaxTimeoutMs = 600000;
inline constexpr int kMaxThreadsPerRank = 4096;

// Validates every field; never fails (bad values -> default + warning).
HookConfig validate(const RawParams& raw);

// True when the hook framework selection string (the `hook` MCA parameter,
// e.g. "vtasos", "comm_method,vtasos", "^vtasos", "") names vtasos positively.
bool selected_by_framework(std::string_view selection);

// Threads each rank asks for: the parameter if > 0, else a valid
// OMP_NUM_THREADS (its first list element), else 1. `omp_num_threads` may be null.
int threads_per_rank(const HookConfig& cfg, const char* omp_num_threads, std::string* why);

std::string_view to_string(Enable e);
std::string_view to_string(Binding b);

}  // namespace vtasos::mpi
