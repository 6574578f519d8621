// Feedback: advice from the daemon (or a file, for tests) polled off the hot
// path by one helper thread, published to the OpenMP threads through atomics.
//
// The helper thread asks for advice every `period` (10 ms), so the OpenMP
// threads never wait on a socket; the thread about to fork an outermost
// region reads the published team size at parallel-begin (one relaxed load)
// and applies it with omp_set_num_threads (tool.cpp, apply_advice). Every
// `update_every` (or as often as the source asks, while the daemon probes the
// tenant) the helper also sends the learned observations. After a failure
// (daemon gone) the advice is withdrawn (suggested_threads() returns 0, so the
// application's own team size comes back); a recoverable source (the daemon
// session, which reconnects on its own schedule) keeps being polled, any other
// stops the loop: the tool keeps learning, monitor-only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "vtasos/core/advice.h"
#include "vtasos/core/placement.h"
#include "vtasos/core/result.h"

namespace vtasos::ompt {

class AdviceSource {
public:
    virtual ~AdviceSource() = default;
    virtual Result<Advice> advice() = 0;
    // Sends observations (a Profile JSON object). Default: nothing to send to.
    virtual Status update(const std::string& observations_json) { return {}; }
    virtual std::string describe() const = 0;
    // True: a failed advice() is temporary (the source reconnects itself).
    virtual bool recoverable() const { return false; }
    // > 0: send observations this often instead of Options::update_every.
    virtual int update_period_ms() const { return 0; }
};

// Advice read from a JSON file on every poll (VTASOS_OMPT_FAKE_ADVICE, a
// debug seam like Open MPI's fakefile params). A missing file means "no
// advice"; a file that does not parse keeps the previous advice. The file is
// an Advice object, optionally with a "placement" (a Placement object) that
// stands for a re-placement by the daemon: a changed one goes to
// `on_placement`, as DaemonSession does with the daemon's.
class FileAdviceSource : public AdviceSource {
public:
    explicit FileAdviceSource(std::string path,
                              std::function<void(const Placement&)> on_placement = nullptr)
        : path_(std::move(path)), on_placement_(std::move(on_placement)) {}
    Result<Advice> advice() override;
    std::string describe() const override { return "advice file " + path_; }

private:
    std::string path_;
    std::function<void(const Placement&)> on_placement_;
    std::optional<Placement> placement_;
    Advice last_;
};

class FeedbackLoop {
public:
    struct Options {
        std::chrono::milliseconds period{10};
        std::chrono::milliseconds update_every{1000};
        // Observations go out every `first_update` during the first `early_window`:
        // the daemon's `auto` policy decides from them, the first 200 ms are often
        // the application's serial set-up (rates below any threshold), and a
        // one-second wait for the next would cost short runs their whole benefit.
        std::chrono::milliseconds first_update{200};
        std::chrono::milliseconds early_window{2000};
        int verbose = 0;
        // Asked at every poll until it returns a Profile JSON object (not ""),
        // which is then sent once: the profile the application was matched to,
        // so the daemon decides from its rates at once instead of after the
        // first measurement. The tool returns "" until libomp has finished
        // initialising (see tool.cpp profile_observations_json).
        std::function<std::string()> initial_observations;
        // Called on the helper thread with every advice received (the tool
        // floats its threads over time-shared PUs from it).
        std::function<void(const Advice&)> on_advice;
    };
    // `observations` builds the JSON to send with update (called on the helper thread).
    FeedbackLoop(std::unique_ptr<AdviceSource> source, Options opt,
                 std::function<std::string()> observations);
    ~FeedbackLoop();  // stop()
    void start();
    // Stops and joins the helper thread; sends a last update first when
    // `final_update`. Idempotent.
    void stop(bool final_update = false);
    // Forget the helper thread without joining (in a forked child, where it does not exist).
    void abandon();

    // Read by OpenMP threads: one relaxed load each.
    int suggested_threads() const { return suggested_.load(std::memory_order_relaxed); }
    // -1: no gang advice yet; 0/1: the daemon's gang decision.
    int gang() const { return gang_.load(std::memory_order_relaxed); }
    // CLOCK_MONOTONIC ns when suggested_threads() last changed (0: never).
    uint64_t changed_ns() const { return changed_ns_.load(std::memory_order_relaxed); }
    uint64_t polls() const { return polls_.load(std::memory_order_relaxed); }
    bool failed() const { return failed_.load(std::memory_order_relaxed); }
    AdviceSource& source() { return *source_; }

    // One poll (the helper thread's step; public for tests).
    void poll_once();

private:
    void run();
    void publish(const Advice& a);

    std::unique_ptr<AdviceSource> source_;
    Options opt_;
    std::function<std::string()> observations_;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    bool started_ = false;
    std::chrono::steady_clock::time_point last_update_{};
    std::chrono::steady_clock::time_point started_at_{};  // epoch: never started
    bool initial_sent_ = false;
    std::atomic<int> suggested_{0};
    std::atomic<int> gang_{-1};
    std::atomic<uint64_t> changed_ns_{0};
    std::atomic<uint64_t> polls_{0};
    std::atomic<bool> failed_{false};
};

}  // namespace vtasos::ompt
