#include "vtasos/gang/gang.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace vtasos::gang {

Result<Policy> parse_policy(std::string_view name) {
    if (name == "gang") return Policy::kGang;
    if (name == "feedback") return Policy::kFeedback;
    if (name == "auto") return Policy::kAuto;
    if (name == "off") return Policy::kOff;
    return make_error(
        Errc::kInvalidArgument,
        fmt::format("sched policy: unknown policy '{}' (expected gang, feedback, auto or off)",
                    name));
}

std::string_view policy_name(Policy p) {
    switch (p) {
        case Policy::kGang:
            return "gang";
        case Policy::kFeedback:
            return "feedback";
        case Policy::kAuto:
            return "auto";
        case Policy::kOff:
            return "off";
    }
    return "off";
}

Status validate_slice_ms(long long ms) {
    if (ms < kMinSliceMs || ms > kMaxSliceMs)
        return make_error(Errc::kInvalidArgument,
                          fmt::format("slice length: {} ms is out of range ({}..{} ms)", ms,
                                      kMinSliceMs, kMaxSliceMs));
    return {};
}

bool should_gang(Policy policy, const SchedWish& wish, const Profile* profile,
                 const GangThresholds& th) {
    // The non-malleable view (an MPI job): sync over the threshold means gang.
    return decide(policy, TenantFacts{wish, profile, false}, th) == Mode::kGang;
}

std::string_view mode_name(Mode m) {
    switch (m) {
        case Mode::kKernel:
            return "kernel";
        case Mode::kGang:
            return "gang";
        case Mode::kShare:
            return "share";
    }
    return "kernel";
}

Mode decide(Policy policy, const TenantFacts& f, const GangThresholds& th) {
    const Profile* p = f.profile;
    const bool forbidden = p && p->gang.has_value() && !*p->gang;
    switch (policy) {
        case Policy::kOff:
            return Mode::kKernel;
        case Policy::kFeedback:
            return Mode::kShare;
        case Policy::kGang:
            return forbidden ? Mode::kKernel : Mode::kGang;
        case Policy::kAuto:
            break;
    }
    if (forbidden) return Mode::kKernel;
    if (f.wish.gang || (p && p->gang.value_or(false))) return Mode::kGang;
    if (!p) return Mode::kKernel;
    const bool syncs =
        p->barrier_rate_hz >= th.barrier_rate_hz || p->sync_fraction >= th.sync_fraction;
    if (!syncs) return Mode::kKernel;
    // A malleable tenant shrinks, unless its data fits in the cache: such a code
    // runs superlinearly faster on all cores (README.md "Where the rule loses").
    return f.malleable && !f.cache_resident.value_or(false) ? Mode::kShare : Mode::kGang;
}

namespace {
bool overlaps(const std::vector<int>& a, const std::vector<int>& b) {
    for (int x : a)
        if (std::find(b.begin(), b.end(), x) != b.end()) return true;
    return false;
}
}  // namespace

Result<std::vector<Matrix>> build_matrices(const std::vector<GangTenant>& tenants, int slice_ms) {
    if (auto s = validate_slice_ms(slice_ms); !s) return s.error();
    std::vector<const GangTenant*> g;
    for (const auto& t : tenants)
        if (t.gang) g.push_back(&t);
    std::sort(g.begin(), g.end(), [](auto* a, auto* b) { return a->id < b->id; });
    const size_t n = g.size();
    std::vector<std::vector<size_t>> adj(n);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i + 1; j < n; ++j)
            if (overlaps(g[i]->pus, g[j]->pus)) {
                adj[i].push_back(j);
                adj[j].push_back(i);
            }
    // Connected components with >= 2 members.
    std::vector<int> comp(n, -1);
    std::vector<std::vector<size_t>> comps;
    for (size_t i = 0; i < n; ++i) {
        if (comp[i] >= 0 || adj[i].empty()) continue;
        std::vector<size_t> members, stack{i};
        comp[i] = static_cast<int>(comps.size());
        while (!stack.empty()) {
            size_t v = stack.back();
            stack.pop_back();
            members.push_back(v);
            for (size_t w : adj[v])
                if (comp[w] < 0) {
                    comp[w] = comp[i];
                    stack.push_back(w);
                }
        }
        comps.push_back(std::move(members));
    }
    std::vector<Matrix> out;
    for (auto& members : comps) {
        // Largest degree first, ties by id: deterministic.
        std::sort(members.begin(), members.end(), [&](size_t a, size_t b) {
            if (adj[a].size() != adj[b].size()) return adj[a].size() > adj[b].size();
            return g[a]->id < g[b]->id;
        });
        std::vector<int> color(n, -1);
        int ncolors = 0;
        for (size_t v : members) {
            std::set<int> used;
            for (size_t w : adj[v])
                if (color[w] >= 0) used.insert(color[w]);
            int c = 0;
            while (used.count(c)) ++c;
            color[v] = c;
            ncolors = std::max(ncolors, c + 1);
        }
        Matrix m;
        m.rows.resize(static_cast<size_t>(ncolors));
        for (size_t v : members) m.rows[static_cast<size_t>(color[v])].push_back(g[v]->id);
        for (auto& r : m.rows) std::sort(r.begin(), r.end());
        // Latency: a tenant waits (rows-1) slices between its own.
        double slice = slice_ms;
        for (size_t v : members) {
            if (!g[v]->latency_ms) continue;
            double bound = *g[v]->latency_ms / static_cast<double>(ncolors - 1);
            if (bound < kMinSliceMs)
                return make_error(
                    Errc::kInfeasible,
                    fmt::format("gang: tenant '{}' latency bound {} ms cannot hold: it shares "
                                "PUs with {} other slice row(s), which needs slices of {:.1f} ms "
                                "< minimum {} ms",
                                g[v]->id, *g[v]->latency_ms, ncolors - 1, bound, kMinSliceMs));
            slice = std::min(slice, bound);
        }
        m.slice_ns = static_cast<int64_t>(std::floor(slice * 1e6));
        out.push_back(std::move(m));
    }
    // Deterministic order: by first tenant id.
    std::sort(out.begin(), out.end(),
              [](const Matrix& a, const Matrix& b) { return a.rows[0][0] < b.rows[0][0]; });
    return out;
}

Scheduler::Scheduler(Freezer& freezer, const Clock& clock, int slice_ms)
    : freezer_(freezer), clock_(clock), slice_ms_(slice_ms) {
    last_account_ = clock_.now_ns();
}

Scheduler::~Scheduler() { thaw_all(); }

void Scheduler::set_frozen(const std::string& id, bool frozen) {
    auto it = state_.find(id);
    if (it == state_.end() || it->second.frozen == frozen) return;
    int64_t t0 = clock_.now_ns();
    Status s = frozen ? freezer_.freeze(id) : freezer_.thaw(id);
    (frozen ? stats_.freeze_ns : stats_.thaw_ns) += clock_.now_ns() - t0;
    if (!s) {
        ++stats_.errors;
        stats_.last_error = s.error().to_string();
        if (frozen) return;  // stays thawed: never leave it half-known as frozen
    }
    it->second.frozen = frozen;
    if (frozen)
        ++stats_.freezes;
    else
        ++stats_.thaws;
}

void Scheduler::account(int64_t now) {
    int64_t dt = now - last_account_;
    if (dt <= 0) return;
    for (auto& [id, st] : state_)
        if (st.scheduled && !st.frozen) st.run_ns += dt;
    last_account_ = now;
}

void Scheduler::enter_row(size_t c, size_t row, int64_t now) {
    const Matrix& m = matrices_[c];
    comps_[c].cur = row;
    comps_[c].slice_start = now;
    comps_[c].slice_end = now + m.slice_ns;
    // Freeze the outgoing first, then thaw the incoming: never oversubscribe.
    for (size_t r = 0; r < m.rows.size(); ++r)
        if (r != row)
            for (const auto& id : m.rows[r]) set_frozen(id, true);
    for (const auto& id : m.rows[row]) set_frozen(id, false);
}

Status Scheduler::rebuild() {
    std::vector<GangTenant> v;
    for (auto& [id, t] : tenants_) v.push_back(t);
    auto mats = build_matrices(v, slice_ms_);
    if (!mats) return mats.error();
    int64_t now = clock_.now_ns();
    account(now);
    // Continue each component's rotation where it was, if the component's
    // first row survives; a changed component restarts at the row whose
    // tenants have run least (keeps fairness across joins/leaves).
    matrices_ = std::move(*mats);
    comps_.assign(matrices_.size(), Comp{});
    for (auto& [id, st] : state_) {
        st.scheduled = false;
        st.component = -1;
        st.row = -1;
    }
    for (size_t c = 0; c < matrices_.size(); ++c)
        for (size_t r = 0; r < matrices_[c].rows.size(); ++r)
            for (const auto& id : matrices_[c].rows[r]) {
                auto& st = state_[id];
                st.scheduled = true;
                st.component = static_cast<int>(c);
                st.row = static_cast<int>(r);
            }
    // Anything no longer scheduled is thawed (and never touched again).
    for (auto& [id, st] : state_)
        if (!st.scheduled && st.frozen) set_frozen(id, false);
    for (size_t c = 0; c < matrices_.size(); ++c) {
        const auto& rows = matrices_[c].rows;
        size_t best = 0;
        double best_run = 0;
        for (size_t r = 0; r < rows.size(); ++r) {
            double sum = 0;
            for (const auto& id : rows[r]) sum += static_cast<double>(state_[id].run_ns);
            double avg = sum / static_cast<double>(rows[r].size());
            if (r == 0 || avg < best_run) {
                best = r;
                best_run = avg;
            }
        }
        enter_row(c, best, now);
    }
    ++stats_.rebuilds;
    return {};
}

Status Scheduler::add(GangTenant t) {
    if (t.id.empty()) return make_error(Errc::kInvalidArgument, "gang: tenant id is empty");
    if (auto old = tenants_.find(t.id); old != tenants_.end() && old->second == t) return {};
    std::string id = t.id;
    // Feasibility check before touching anything.
    std::vector<GangTenant> v;
    for (auto& [k, x] : tenants_)
        if (k != id) v.push_back(x);
    v.push_back(t);
    if (auto m = build_matrices(v, slice_ms_); !m) return m.error();
    tenants_[id] = std::move(t);
    // A newcomer joins with no credit beyond the least-served peer would be
    // unfair to others; it starts at 0 and the row choice favours it once.
    if (!state_.count(id)) state_[id] = TenantState{};
    return rebuild();
}

Status Scheduler::remove(std::string_view id) {
    auto it = tenants_.find(id);
    if (it == tenants_.end())
        return make_error(Errc::kNotFound, fmt::format("gang: unknown tenant '{}'", id));
    std::string key(id);
    set_frozen(key, false);
    tenants_.erase(it);
    account(clock_.now_ns());
    state_.erase(key);
    return rebuild();
}

void Scheduler::thaw_all() {
    account(clock_.now_ns());
    for (auto& [id, st] : state_)
        if (st.frozen) set_frozen(id, false);
    matrices_.clear();
    comps_.clear();
    for (auto& [id, st] : state_) {
        st.scheduled = false;
        st.row = -1;
        st.component = -1;
    }
}

Status Scheduler::set_slice_ms(int ms) {
    if (auto s = validate_slice_ms(ms); !s) return s;
    int old = slice_ms_;
    slice_ms_ = ms;
    std::vector<GangTenant> v;
    for (auto& [k, x] : tenants_) v.push_back(x);
    if (auto m = build_matrices(v, ms); !m) {
        slice_ms_ = old;
        return m.error();
    }
    return rebuild();
}

int64_t Scheduler::tick() {
    int64_t now = clock_.now_ns();
    account(now);
    int64_t next = -1;
    for (size_t c = 0; c < matrices_.size(); ++c) {
        auto& cp = comps_[c];
        if (now >= cp.slice_end) {
            ++stats_.switches;
            size_t row = (cp.cur + 1) % matrices_[c].rows.size();
            // Keep the cadence (no drift) unless we fell a whole slice behind.
            int64_t start = cp.slice_end;
            if (now - start >= matrices_[c].slice_ns) start = now;
            enter_row(c, row, start);
        }
    }
    // Relative to the time after the freezes/thaws, which take real time
    // (ms on the v1 freezer): otherwise every slice would stretch by them.
    const int64_t after = clock_.now_ns();
    for (const auto& cp : comps_) {
        int64_t d = std::max<int64_t>(0, cp.slice_end - after);
        if (next < 0 || d < next) next = d;
    }
    return next;
}

std::map<std::string, TenantState> Scheduler::states() const {
    std::map<std::string, TenantState> out;
    for (auto& [id, st] : state_) {
        TenantState s = st;
        if (!s.frozen && s.scheduled) s.run_ns += clock_.now_ns() - last_account_;
        out[id] = s;
    }
    return out;
}

std::map<std::string, std::vector<int>> feedback_shares(const std::vector<ShareTenant>& tenants) {
    std::vector<const ShareTenant*> t;
    for (const auto& x : tenants) t.push_back(&x);
    std::sort(t.begin(), t.end(), [](auto* a, auto* b) { return a->id < b->id; });
    const size_t n = t.size();
    std::vector<int> comp(n, -1);
    std::map<std::string, std::vector<int>> out;
    for (size_t i = 0; i < n; ++i) {
        if (comp[i] >= 0) continue;
        std::vector<size_t> members, stack{i};
        comp[i] = static_cast<int>(i);
        while (!stack.empty()) {
            size_t v = stack.back();
            stack.pop_back();
            members.push_back(v);
            for (size_t w = 0; w < n; ++w)
                if (comp[w] < 0 && overlaps(t[v]->pus, t[w]->pus)) {
                    comp[w] = comp[i];
                    stack.push_back(w);
                }
        }
        std::sort(members.begin(), members.end());
        if (members.size() == 1) {
            out[t[i]->id] = t[i]->pus;
            continue;
        }
        std::set<int> pool;
        for (size_t v : members) pool.insert(t[v]->pus.begin(), t[v]->pus.end());
        std::vector<int> pus(pool.begin(), pool.end());
        const int P = static_cast<int>(pus.size());
        const int m = static_cast<int>(members.size());
        if (m >= P) {
            // More tenants than PUs: one PU each, round-robin (some must share).
            for (int k = 0; k < m; ++k) out[t[members[k]]->id] = {pus[k % P]};
            continue;
        }
        // Largest remainder over the PUs left after everyone's one PU.
        long total = 0;
        for (size_t v : members) total += std::max(1, t[v]->cpus);
        std::vector<int> give(members.size(), 1);
        std::vector<std::pair<double, size_t>> rem;
        int left = P - m;
        for (size_t k = 0; k < members.size(); ++k) {
            const int want = std::max(1, t[members[k]]->cpus);
            double exact = static_cast<double>(P) * want / static_cast<double>(total);
            int extra = std::clamp(static_cast<int>(std::floor(exact)) - 1, 0, want - 1);
            extra = std::min(extra, left);
            give[k] += extra;
            left -= extra;
            rem.push_back({exact - std::floor(exact), k});
        }
        std::stable_sort(rem.begin(), rem.end(),
                         [](auto& a, auto& b) { return a.first > b.first; });
        for (int pass = 0; left > 0 && pass < 2; ++pass)
            for (auto& [r, k] : rem) {
                if (left == 0) break;
                if (give[k] >= std::max(1, t[members[k]]->cpus)) continue;
                ++give[k];
                --left;
            }
        int next = 0;
        for (size_t k = 0; k < members.size(); ++k) {
            auto& v = out[t[members[k]]->id];
            for (int j = 0; j < give[k]; ++j) v.push_back(pus[static_cast<size_t>(next++)]);
        }
    }
    return out;
}

}  // namespace vtasos::gang
