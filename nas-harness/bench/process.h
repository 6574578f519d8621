// process.h: runs one benchmark program as its own process, with a time limit.
//
// Why: every run must be isolated (its own address space, its own OpenMP runtime, its own
// environment), and one run that hangs or crashes must not take the campaign down. Each child
// gets its own process group, so that a timeout or Ctrl-C kills everything it started (mpirun's
// ranks, vtasosctl's child), and stdin from /dev/null.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "result.h"

namespace vtasos::bench {

struct ProcessSpec {
    std::vector<std::string> argv;  // argv[0]: a path, or a name looked up in $PATH
    std::vector<std::pair<std::string, std::string>> set_env;  // added or replaced
    std::vector<std::string> unset_env;                        // removed
    std::chrono::milliseconds timeout{0};                      // 0: no limit
    size_t capture_limit = 8u << 20;  // per stream; beyond it the oldest bytes are dropped
    // When non-null and it becomes true, the run is killed like on a timeout and reported with
    // `cancelled` (pairs: stopping background runs once every measured run has finished).
    const std::atomic<bool>* cancel = nullptr;
};

struct ProcessOutcome {
    int exit_code = -1;  // the exit status when the process exited, else -1
    int signal = 0;      // the signal that killed it, else 0
    bool core_dumped = false;
    bool timed_out = false;    // killed (SIGTERM, then SIGKILL) because the limit passed
    bool interrupted = false;  // killed because interrupt_requested() became true
    bool cancelled = false;    // killed because *spec.cancel became true
    double wall_s = 0;         // from just before fork to reaping
    std::string out, err;      // captured stdout / stderr

    bool succeeded() const { return exit_code == 0 && !timed_out && !interrupted && !cancelled; }
    // "exit 0", "exit 3", "killed by SIGABRT (core dumped)", "timed out after 2.0 s", ...
    std::string describe() const;
};

// Runs spec.argv to completion (or its timeout), capturing both streams.
// Result: the outcome, also when the program failed, crashed or timed out.
// Errors: kInvalidArgument for an empty argv; kNotFound when argv[0] is not an executable file
// (or not in $PATH); kIo when pipes or fork fail or exec fails (message has strerror).
Result<ProcessOutcome> run_process(const ProcessSpec& spec);

// A long-lived child (the vtasosd daemon): stdout and stderr appended to `log`.
class Child {
  public:
    // Errors: as run_process, plus kIo when `log` cannot be opened.
    static Result<Child> spawn(const ProcessSpec& spec, const std::filesystem::path& log);
    Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), status_(o.status_) {}
    Child& operator=(Child&&) = delete;
    Child(const Child&) = delete;
    ~Child();

    pid_t pid() const { return pid_; }
    // False once the child has exited (it is then reaped; exit_status() tells how).
    bool running();
    std::string exit_status() const;
    // True once the child has exited with status 0 (e.g. a daemon that forked into background).
    bool exited_ok() const;
    // SIGTERM to the group, then SIGKILL after `grace`; reaps. Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));

  private:
    explicit Child(pid_t pid) : pid_(pid) {}
    pid_t pid_ = -1;
    int status_ = -1;  // waitpid status once reaped
};

// Interrupt flag set from a SIGINT/SIGTERM handler (async-signal-safe) and polled by
// run_process and the experiment loops.
void request_interrupt();
bool interrupt_requested();
void clear_interrupt();  // tests only

// "SIGABRT" for 6, "signal 77" for unknown numbers.
std::string signal_name(int sig);

}  // namespace vtasos::bench
