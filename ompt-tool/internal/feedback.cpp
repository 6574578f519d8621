#include "feedback.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "clock.h"

namespace vtasos::ompt {

Result<Advice> FileAdviceSource::advice() {
    std::ifstream in(path_);
    if (!in) return Advice{};
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return last_;  // being rewritten: keep the last
    if (auto it = j.find("placement"); it != j.end()) {
        auto p = Placement::from_json(*it);
        if (p && (!placement_ || placement_->cpus != p->cpus)) {
            placement_ = *p;
            if (on_placement_) on_placement_(*p);
        }
        j.erase("placement");
    }
    auto a = Advice::from_json(j);
    if (!a) return last_;
    last_ = *a;
    return last_;
}

FeedbackLoop::FeedbackLoop(std::unique_ptr<AdviceSource> source, Options opt,
                           std::function<std::string()> observations)
    : source_(std::move(source)), opt_(opt), observations_(std::move(observations)) {}

FeedbackLoop::~FeedbackLoop() { stop(false); }

void FeedbackLoop::start() {
    if (started_) return;
    started_ = true;
    last_update_ = started_at_ = std::chrono::steady_clock::now();
    // The helper thread takes no signals: the application's handlers keep
    // running on the application's threads.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    thread_ = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    pthread_setname_np(thread_.native_handle(), "vtasos-ompt");
}

void FeedbackLoop::stop(bool final_update) {
    if (!started_) return;
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    started_ = false;
    if (final_update && !failed_.load() && observations_) {
        try {
            (void)source_->update(observations_());
        } catch (...) {
        }
    }
}

void FeedbackLoop::abandon() {
    // In a forked child the helper thread does not exist: no pthread call may
    // touch it. Its std::thread object is moved away and deliberately leaked.
    if (thread_.joinable()) (void)new std::thread(std::move(thread_));
    started_ = false;
}

void FeedbackLoop::publish(const Advice& a) {
    int want = a.suggested_threads > 0 ? a.suggested_threads : 0;
    if (suggested_.exchange(want, std::memory_order_relaxed) != want)
        changed_ns_.store(monotonic_ns(), std::memory_order_relaxed);
    gang_.store(a.gang ? 1 : 0, std::memory_order_relaxed);
    if (opt_.on_advice) opt_.on_advice(a);
}

void FeedbackLoop::poll_once() {
    polls_.fetch_add(1, std::memory_order_relaxed);
    auto a = source_->advice();
    if (!a && source_->recoverable()) {
        if (suggested_.exchange(0) != 0) changed_ns_.store(monotonic_ns());
        return;
    }
    if (!a) {
        failed_.store(true);
        if (suggested_.exchange(0) != 0) changed_ns_.store(monotonic_ns());
        if (opt_.verbose > 0)
            std::fprintf(stderr, "vtasos-ompt: %s: %s; advice stopped, monitoring only\n",
                         source_->describe().c_str(), a.error().message().c_str());
        return;
    }
    publish(*a);
    if (!initial_sent_ && opt_.initial_observations) {
        if (std::string j = opt_.initial_observations(); !j.empty()) {
            initial_sent_ = true;
            auto st = source_->update(j);
            if (!st && opt_.verbose > 1)
                std::fprintf(stderr, "vtasos-ompt: update: %s\n", st.error().message().c_str());
        }
    }
    auto now = std::chrono::steady_clock::now();
    int fast_ms = source_->update_period_ms();
    const bool early = now - started_at_ < opt_.early_window;
    auto every = fast_ms > 0 ? std::chrono::milliseconds(fast_ms)
                 : early     ? std::min(opt_.first_update, opt_.update_every)
                             : opt_.update_every;
    if (observations_ && now - last_update_ >= every) {
        last_update_ = now;
        auto st = source_->update(observations_());
        if (!st && opt_.verbose > 1)
            std::fprintf(stderr, "vtasos-ompt: update: %s\n", st.error().message().c_str());
    }
}

void FeedbackLoop::run() {
    try {
        std::unique_lock<std::mutex> lk(mu_);
        while (!stop_ && !failed_.load()) {
            lk.unlock();
            poll_once();
            lk.lock();
            cv_.wait_for(lk, opt_.period, [this] { return stop_; });
        }
    } catch (...) {
        failed_.store(true);
        suggested_.store(0);
    }
}

}  // namespace vtasos::ompt
