#include "session.h"

#include <fmt/format.h>

#include <algorithm>

#include "vtasos/mpi/share.h"

namespace vtasos::mpi {

std::string_view to_string(Outcome o) {
    switch (o) {
        case Outcome::kPlaced:
            return "placed";
        case Outcome::kRegistered:
            return "registered";
        case Outcome::kRespected:
            return "respected";
        case Outcome::kNoDaemon:
            return "no_daemon";
        case Outcome::kFailed:
            return "failed";
    }
    return "?";
}

Session::Session(HookConfig cfg, RankFacts facts, SessionDeps deps)
    : cfg_(std::move(cfg)), facts_(std::move(facts)), deps_(std::move(deps)) {}

Outcome Session::start() {
    auto say = [&](int level, const std::string& m) {
        if (deps_.say) deps_.say(level, m);
    };
    std::string why_threads;
    threads_ = threads_per_rank(cfg_, deps_.omp_num_threads, &why_threads);
    socket_ = cfg_.socket.empty() ? deps_.default_socket : cfg_.socket;

    if (deps_.binding.bound && cfg_.binding == Binding::kRespect) {
        outcome_ = Outcome::kRespected;
        summary_ =
            fmt::format("left alone: {} and hook_vtasos_binding=respect", deps_.binding.describe());
        if (facts_.local_rank == 0)
            say(0, fmt::format("the ranks are already bound ({}); hook_vtasos_binding=respect "
                               "leaves them there and vtasosd does not place this job. Pass "
                               "--bind-to none to let vtasos place it, or --mca "
                               "hook_vtasos_binding takeover",
                               deps_.binding.describe()));
        else
            say(1, summary_);
        return outcome_;
    }

    const auto start = deps_.clock.now();
    const auto deadline = start + std::chrono::milliseconds(cfg_.timeout_ms);
    auto conn = deps_.connect
                    ? deps_.connect(cfg_.socket, cfg_.timeout_ms)
                    : Result<std::unique_ptr<Transport>>(Error(Errc::kUnavailable, "no transport"));
    if (!conn) {
        outcome_ =
            conn.error().code() == Errc::kUnavailable ? Outcome::kNoDaemon : Outcome::kFailed;
        summary_ = outcome_ == Outcome::kNoDaemon
                       ? fmt::format("no placement: no vtasosd at {} ({})", socket_,
                                     conn.error().message())
                       : fmt::format("no placement: connecting to {}: {}", socket_,
                                     conn.error().to_string());
        say(1, summary_);
        return outcome_;
    }
    Transport& t = **conn;
    auto hello = t.call({{"op", "hello"}, {"client", "vtasos-mpi-hook"}});
    if (!hello || !hello->value("ok", false)) {
        outcome_ = Outcome::kFailed;
        summary_ = "no placement: hello: " +
                   (hello ? reply_error(*hello, "hello").to_string() : hello.error().to_string());
        say(1, summary_);
        return outcome_;
    }
    bool has_join = daemon_has_join(*hello);

    JoinSpec spec;
    spec.tenant = job_tenant_id(facts_.nspace, facts_.node_id);
    spec.nspace = facts_.nspace;
    spec.rank = facts_.rank;
    spec.local_rank = facts_.local_rank;
    spec.local_size = std::max(1, facts_.local_size);
    spec.node_id = facts_.node_id;
    spec.hostname = facts_.hostname;
    spec.threads = threads_;
    spec.profile = cfg_.profile;
    spec.pid = deps_.pid;
    spec.oversubscribed =
        deps_.usable_pus > 0 && static_cast<long>(spec.local_size) * threads_ > deps_.usable_pus;
    // The daemon gives up waiting for late ranks a quarter before the ranks
    // do, so the ranks that came are placed rather than timed out.
    spec.wait_ms = std::max(1, cfg_.timeout_ms * 3 / 4);
    say(2, fmt::format("{}; {} thread(s) per rank ({}); {}; daemon {} {}", facts_.to_string(),
                       threads_, why_threads, deps_.binding.describe(), socket_,
                       has_join ? "has job tenants" : "has no job tenants: one tenant per rank"));

    auto share = join_job(t, spec, has_join, deadline, deps_.clock);
    if (!share) {
        outcome_ = Outcome::kFailed;
        summary_ = "no placement: " + share.error().to_string();
        say(1, summary_);
        return outcome_;
    }
    share_ = std::move(*share);
    auto pus = share_->pus();
    auto bound = deps_.bind ? deps_.bind(pus) : Result<int>(Error(Errc::kInternal, "no binder"));
    std::string replaced = deps_.binding.bound ? fmt::format(", replacing the launch binding to {}",
                                                             format_cpulist(deps_.binding.affinity))
                                               : "";
    if (bound) {
        outcome_ = Outcome::kPlaced;
        summary_ = fmt::format("tenant {} ({} of {} local ranks, {}): bound to {}{}",
                               share_->tenant, share_->arrived, share_->expected,
                               share_->source.empty() ? share_->mode : share_->source,
                               format_cpulist(pus), replaced);
    } else {
        outcome_ = Outcome::kRegistered;
        summary_ = fmt::format("tenant {}: share {} not bound: {}", share_->tenant,
                               format_cpulist(pus), bound.error().message());
    }
    if (deps_.setenv) {
        deps_.setenv(VTASOS_MPI_ENV_TENANT, share_->tenant.c_str());
        deps_.setenv(VTASOS_MPI_ENV_SHARE, share_->placement.to_json().dump().c_str());
        deps_.setenv(VTASOS_MPI_ENV_PUS, format_cpulist(pus).c_str());
        deps_.setenv(VTASOS_MPI_ENV_SOCKET, socket_.c_str());
        deps_.setenv(
            VTASOS_MPI_ENV_RANK,
            fmt::format("{} {} {}", facts_.rank, facts_.local_rank, facts_.local_size).c_str());
    }
    say(1, summary_);
    return outcome_;
}

void Session::finish() {
    if (finished_) return;
    finished_ = true;
    if (!share_) return;
    auto say = [&](int level, const std::string& m) {
        if (deps_.say) deps_.say(level, m);
    };
    if (deps_.unsetenv)
        for (const char* n : {VTASOS_MPI_ENV_TENANT, VTASOS_MPI_ENV_SHARE, VTASOS_MPI_ENV_PUS})
            deps_.unsetenv(n);
    if (!deps_.connect) return;
    auto conn = deps_.connect(cfg_.socket, std::min(cfg_.timeout_ms, 2000));
    if (!conn) {
        say(1, fmt::format("finalize: share of {} not given back ({}); the daemon releases it "
                           "when this process exits",
                           share_->tenant, conn.error().message()));
        return;
    }
    auto st = leave_job(**conn, *share_, deps_.pid);
    if (!st)
        say(1, fmt::format("finalize: {}; the daemon releases the share when this process exits",
                           st.error().to_string()));
    else
        say(2, fmt::format("finalize: gave back {} of tenant {}", format_cpulist(share_->pus()),
                           share_->tenant));
}

}  // namespace vtasos::mpi
