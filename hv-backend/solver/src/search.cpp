// Branch and bound and local search over a compiled placement Problem.
//
// Symmetry breaking, and why it is sound. A unit (package, L3 segment, core)
// is clean when no CPU of the request sits in it. Two clean sibling units with
// identical static content are exchanged by an automorphism that keeps every
// constraint and objective term, so placing the next CPU in either gives
// subtrees with the same objective values: enumerate() offers only the first
// clean unit of each content class, and only the first of several fresh PUs
// with identical state inside one core.
// In ordered mode, CPUs of one type (same level, same groups: interchangeable)
// also take PUs in non-decreasing order along Problem::order (strictly
// increasing unless the type may stack, i.e. coexist pu). The two rules
// combine soundly because the automorphism maps the PUs of the second unit
// onto the first in order and both units lie wholly above the previous PU of
// the type: a completion through the second unit maps onto one through the
// first that still respects the order.
// Pruning: a subtree is dropped when its lower bound (lower_bound(), plus the
// kinds of candidates enumerate() skips) cannot beat the incumbent; bounds
// may assume that a term already equal to the incumbent's does not grow when
// the term only grows as CPUs are added (overload, shared PUs, shared cores,
// packages of a packed tenant).
#include "search.h"

#include <algorithm>
#include <limits>

namespace vtasos::solver_detail {

Search::Search(const Problem& p) : P(p), L(*p.lay) {
    pos_.assign(P.n, -1);
    cnt_pu_.assign(L.npu, 0);
    nonpu_pu_.assign(L.npu, 0);
    cnt_core_.assign(L.ncore, 0);
    cnt_seg_.assign(L.nseg, 0);
    cnt_pkg_.assign(L.npkg, 0);
    cnt_l3_.assign(std::max(1, L.nl3), 0);
    avail_pkg_.assign(L.npkg, {});
    avail_numa_.assign(std::max(1, L.nnuma), {});
    for (int i = 0; i < L.npu; ++i)
        for (int l = 0; l <= P.allowed[i]; ++l) {
            ++avail_pkg_[L.pu_pkg[i]][l];
            ++avail_numa_[L.pu_numa[i]][l];
        }
    avail_ = P.avail0;
    for (int c = 0; c < P.n; ++c) ++rem_[P.lvl[c]];
    group_placed_.assign(P.groups.size(), 0);
    group_anchor_.assign(P.groups.size(), -1);
    clean_pkg_.assign(L.npkg, {});
    ushared_pkg_.assign(L.npkg, {});
    for (int i = 0; i < L.npu; ++i)
        if (!P.core_others[L.pu_core[i]])
            for (int l = 0; l <= P.allowed[i]; ++l) {
                ++clean_pkg_[L.pu_pkg[i]][l];
                ++clean_[l];
            }
    int ppc = 1;
    for (int k = 0; k < L.ncore; ++k) ppc = std::max(ppc, L.core_end[k] - L.core_begin[k]);
    for (auto& h : shared_hist_) h.assign(ppc + 1, 0);
    for (int k = 0; k < L.ncore; ++k)
        if (P.core_others[k]) shared_hist(k, +1);
    for (int p = 0; p < L.npkg; ++p)
        for (int l = 0; l < kLevels; ++l) {
            hostable_[l] += avail_pkg_[p][l] > 0;
            hostable_clean_[l] += clean_pkg_[p][l] > 0;
        }
    for (int p = 0; p < L.npkg; ++p) {
        over_ += pkg_over(p);
        slack_ += pkg_slack(p);
    }
    cand_buf_.resize(P.n + 1);
    pkg_seen_.assign(P.n_pkg_class, 0);
    seg_seen_.assign(P.n_seg_class, 0);
    core_seen_.assign(P.n_core_class, 0);
}

int64_t Search::pkg_over(int p) const {
    return std::max<int64_t>(0, P.pkg_base_milli[p] + cnt_pkg_[p] * P.d_milli - L.pkg_cap_milli[p]);
}

int64_t Search::pkg_slack(int p) const {
    if (P.pkg_max_allowed[p] < 0) return 0;
    return std::max<int64_t>(0, L.pkg_cap_milli[p] - P.pkg_base_milli[p] - cnt_pkg_[p] * P.d_milli);
}

// Unused shared core k (all its PUs fresh) enters (+1) or leaves (-1) the
// histogram of unused shared cores by PUs with allowed >= L.
void Search::shared_hist(int k, int sign) {
    std::array<int, kLevels> f{};
    for (int i = L.core_begin[k]; i < L.core_end[k]; ++i)
        for (int l = 0; l <= P.allowed[i]; ++l) ++f[l];
    for (int l = 0; l < kLevels; ++l)
        if (f[l] > 0) shared_hist_[l][f[l]] += sign;
}

// Fresh PUs of core k with allowed >= l, added (sign +1) to or removed (-1)
// from the capacity of used shared cores.
void Search::shared_core_capacity(int k, int p, int sign) {
    for (int i = L.core_begin[k]; i < L.core_end[k]; ++i) {
        if (cnt_pu_[i] != 0) continue;
        for (int l = 0; l <= P.allowed[i]; ++l) {
            ushared_pkg_[p][l] += sign;
            ushared_[l] += sign;
        }
    }
}

// place() and unplace() are exact mirrors: package, core, PU, then the rest.
void Search::place(int c, int i) {
    const int lv = P.lvl[c];
    const int k = L.pu_core[i], s = L.pu_seg[i], p = L.pu_pkg[i], m = L.pu_numa[i];
    // Package.
    if (cnt_pkg_[p] == 0) {
        ++used_pkgs_;
        for (int l = 0; l < kLevels; ++l) {
            used_avail_[l] += avail_pkg_[p][l];
            hostable_[l] -= avail_pkg_[p][l] > 0;
            hostable_clean_[l] -= clean_pkg_[p][l] > 0;
        }
    }
    over_ -= pkg_over(p);
    slack_ -= pkg_slack(p);
    t5p_ += cnt_pkg_[p];  // pairs of the tenant's CPUs in this package
    ++cnt_pkg_[p];
    over_ += pkg_over(p);
    slack_ += pkg_slack(p);
    // Core.
    t4_ += cnt_core_[k];  // pairs of the tenant's CPUs on this core
    if (cnt_core_[k] == 0) {
        ++used_cores_;
        t2_ += P.core_others[k];
        if (P.core_others[k]) {
            shared_core_capacity(k, p, +1);
            shared_hist(k, -1);
        }
    }
    ++cnt_core_[k];
    // PU.
    if (cnt_pu_[i] == 0) {
        t1_ += P.others[i];
        for (int l = 0; l <= P.allowed[i]; ++l) {
            --avail_[l];
            --avail_pkg_[p][l];
            --used_avail_[l];
            --avail_numa_[m][l];
            if (P.core_others[k]) {
                --ushared_pkg_[p][l];
                --ushared_[l];
            } else {
                --clean_pkg_[p][l];
                --clean_[l];
            }
        }
    } else {
        t1_ += cnt_pu_[i];  // pairs of the tenant's CPUs on this PU
        ++stacked_;
    }
    ++cnt_pu_[i];
    if (lv > 0) ++nonpu_pu_[i];
    // The rest.
    ++cnt_seg_[s];
    if (cnt_l3_[L.pu_l3[i]]++ == 0) ++used_l3_;
    ++placed_;
    --rem_[lv];
    for (int g : P.groups_of[c])
        if (group_placed_[g]++ == 0) group_anchor_[g] = P.unit_of(P.groups[g].level, i);
    pos_[c] = i;
}

void Search::unplace(int c, int i) {
    const int lv = P.lvl[c];
    const int k = L.pu_core[i], s = L.pu_seg[i], p = L.pu_pkg[i], m = L.pu_numa[i];
    pos_[c] = -1;
    for (int g : P.groups_of[c])
        if (--group_placed_[g] == 0) group_anchor_[g] = -1;
    ++rem_[lv];
    --placed_;
    if (--cnt_l3_[L.pu_l3[i]] == 0) --used_l3_;
    --cnt_seg_[s];
    // PU.
    if (lv > 0) --nonpu_pu_[i];
    --cnt_pu_[i];
    if (cnt_pu_[i] == 0) {
        t1_ -= P.others[i];
        for (int l = 0; l <= P.allowed[i]; ++l) {
            ++avail_[l];
            ++avail_pkg_[p][l];
            ++used_avail_[l];
            ++avail_numa_[m][l];
            if (P.core_others[k]) {
                ++ushared_pkg_[p][l];
                ++ushared_[l];
            } else {
                ++clean_pkg_[p][l];
                ++clean_[l];
            }
        }
    } else {
        t1_ -= cnt_pu_[i];
        --stacked_;
    }
    // Core.
    --cnt_core_[k];
    if (cnt_core_[k] == 0) {
        --used_cores_;
        t2_ -= P.core_others[k];
        if (P.core_others[k]) {
            shared_core_capacity(k, p, -1);
            shared_hist(k, +1);
        }
    }
    t4_ -= cnt_core_[k];
    // Package.
    over_ -= pkg_over(p);
    slack_ -= pkg_slack(p);
    --cnt_pkg_[p];
    t5p_ -= cnt_pkg_[p];
    over_ += pkg_over(p);
    slack_ += pkg_slack(p);
    if (cnt_pkg_[p] == 0) {
        --used_pkgs_;
        for (int l = 0; l < kLevels; ++l) {
            used_avail_[l] -= avail_pkg_[p][l];
            hostable_[l] += avail_pkg_[p][l] > 0;
            hostable_clean_[l] += clean_pkg_[p][l] > 0;
        }
    }
}

bool Search::can_place(int c, int i) const {
    const int lv = P.lvl[c];
    if (P.allowed[i] < lv) return false;
    if (cnt_pu_[i] > 0 && (lv != 0 || nonpu_pu_[i] != 0)) return false;
    for (int g : P.groups_of[c])
        if (group_placed_[g] > 0 && P.unit_of(P.groups[g].level, i) != group_anchor_[g])
            return false;
    return true;
}

// Necessary conditions for the current partial assignment to be completable.
bool Search::feasible_after() const {
    const int r = P.n - placed_;
    // Stacking on the tenant's own PUs only once every unreserved PU is used.
    if (stacked_ > 0 && r < avail_[0]) return false;
    // CPUs with level >= 1 need fresh PUs with allowed >= their level (Hall).
    int need = 0;
    for (int l = kLevels - 1; l >= 1; --l) {
        need += rem_[l];
        if (need > avail_[l]) return false;
    }
    for (size_t g = 0; g < P.groups.size(); ++g) {
        if (group_placed_[g] == 0) continue;
        const Group& G = P.groups[g];
        if (group_placed_[g] == static_cast<int>(G.cpus.size())) continue;
        std::array<int, kLevels> want{};
        for (int c : G.cpus)
            if (pos_[c] < 0) ++want[P.lvl[c]];
        std::array<int, kLevels> have{};
        const int u = group_anchor_[g];
        if (G.level == GroupLevel::kCore) {
            for (int i = L.core_begin[u]; i < L.core_end[u]; ++i)
                if (cnt_pu_[i] == 0)
                    for (int l = 0; l <= P.allowed[i]; ++l) ++have[l];
        } else if (G.level == GroupLevel::kSocket) {
            have = avail_pkg_[u];
        } else {
            have = avail_numa_[u];
        }
        int w = 0;
        for (int l = kLevels - 1; l >= 1; --l) {
            w += want[l];
            if (w > have[l]) return false;
        }
    }
    return true;
}

Objective Search::objective() const {
    Objective o;
    o[0] = over_;
    o[1] = t1_;
    o[2] = t2_;
    o[3] = P.hungry ? -used_pkgs_ : used_pkgs_;
    o[4] = t4_;
    o[5] = P.hungry ? t5p_ : used_l3_;
    return o;
}

// Componentwise lower bounds of every completion that could beat the
// incumbent; compared lexicographically. `strong` adds the capacity-aware
// spread bound of hungry tenants (paid once per node, not per candidate).
Objective Search::lower_bound(bool strong) const {
    Objective o = objective();
    const int r = P.n - placed_;
    if (r == 0) return o;
    o[0] += std::max<int64_t>(0, r * P.d_milli - slack_);
    o[1] += std::max(0, r - avail_[1]);
    int minl = 0;
    while (minl < kLevels - 1 && rem_[minl] == 0) ++minl;
    // Terms never decrease as CPUs are added. Once the terms before one equal
    // the incumbent's, a better completion may not raise it: with no shared
    // PU to spare, coexist pu CPUs need a PU of their own like core CPUs; with
    // no shared core to spare, only clean cores (or shared cores already used)
    // remain.
    const bool tight1 = have_best_ && o[0] == best_[0] && t1_ == best_[1];
    const bool tight2 = tight1 && t2_ == best_[2];
    if (tight1) minl = std::max(minl, 1);
    if (tight2) {
        int need = 0;
        for (int l = kLevels - 1; l >= 1; --l) {
            need += rem_[l] + (l == 1 ? rem_[0] : 0);
            if (need > clean_[l] + ushared_[l]) {
                o[2] = best_[2] + 1;  // nothing better down here
                return o;
            }
        }
    }
    // CPUs beyond the fresh PUs of clean cores and of shared cores already used
    // open new shared cores, the roomiest first; stacking instead needs every
    // unreserved PU used, which opens every such core.
    int excess = r - clean_[minl] - ushared_[minl];
    if (excess > 0) {
        const auto& h = shared_hist_[minl];
        int opened = 0;
        for (int f = static_cast<int>(h.size()) - 1; f >= 1 && excess > 0; --f) {
            const int take = std::min(h[f], (excess + f - 1) / f);
            opened += take;
            excess -= take * f;
        }
        o[2] += opened;  // when excess stays > 0 only stacking is left: all opened
    }
    // Unused packages with a fresh PU for the laxest remaining CPU: the only
    // ones the tenant can still enter (stacking happens on its own PUs).
    const int enter = tight2 ? hostable_clean_[minl] : hostable_[minl];
    if (!P.hungry) {
        if (used_pkgs_ == 0 || (used_avail_[minl] < r && enter > 0)) o[3] += 1;
        if (used_l3_ == 0) o[5] += 1;
    } else {
        o[3] -= std::min(r, enter);
        // Pairs per package are convex: at best the n CPUs spread evenly over
        // every package they can reach.
        const int64_t h = std::max(1, used_pkgs_ + enter), q = P.n / h, m = P.n % h;
        const int64_t even = m * (q + 1) * q / 2 + (h - m) * q * (q - 1) / 2;
        o[5] = std::max<int64_t>(t5p_, even);
        if (strong && !(minl == 0 && rem_[0] > 0))
            o[5] = std::max(o[5], spread_pairs_bound(minl, tight2));
    }
    o[4] += std::max(0, r - (P.open_cores - used_cores_));
    return o;
}

// Hungry tenants: fewest pairs of CPUs per package reachable from here,
// honouring how many fresh PUs each package has left (water filling: each
// remaining CPU goes where the tenant has the fewest CPUs). Valid when no CPU
// may stack (minl >= 1 or no coexist pu CPU left).
int64_t Search::spread_pairs_bound(int minl, bool no_new_shared_core) const {
    const int r = P.n - placed_;
    struct Slot {
        int k, cap;
    };
    Slot slots[256];
    int ns = 0;
    for (int p = 0; p < L.npkg; ++p) {
        int cap = avail_pkg_[p][minl];
        if (no_new_shared_core) cap = clean_pkg_[p][minl] + ushared_pkg_[p][minl];
        if (cap <= 0) continue;
        if (ns == 256) return t5p_;  // too many packages to bother: weaker bound
        slots[ns++] = {cnt_pkg_[p], cap};
    }
    int64_t pairs = t5p_;
    for (int j = 0; j < r; ++j) {
        int best = -1;
        for (int x = 0; x < ns; ++x)
            if (slots[x].cap > 0 && (best < 0 || slots[x].k < slots[best].k)) best = x;
        if (best < 0) return std::numeric_limits<int64_t>::max() / 4;  // cannot fit
        pairs += slots[best].k++;
        --slots[best].cap;
    }
    return pairs;
}

template <typename F>
void Search::enumerate(int c, int lo, const Objective* node_lb, F&& f) {
    const int lv = P.lvl[c];
    int pkg_anchor = -1, numa_anchor = -1, core_anchor = -1;
    for (int g : P.groups_of[c]) {
        if (group_placed_[g] == 0) continue;
        switch (P.groups[g].level) {
            case GroupLevel::kCore:
                core_anchor = group_anchor_[g];
                break;
            case GroupLevel::kSocket:
                pkg_anchor = group_anchor_[g];
                break;
            case GroupLevel::kNode:
                numa_anchor = group_anchor_[g];
                break;
        }
    }
    // Whole kinds of candidates that cannot beat the incumbent: entering a new
    // package (packed tenants), a new shared core, a PU shared with others.
    bool no_new_pkg = false, no_new_shared_core = false, no_shared_pu = false;
    if (node_lb != nullptr && have_best_) {
        Objective b = *node_lb;
        b[1] = std::max<int64_t>(b[1], t1_ + 1);
        no_shared_pu = !(b < best_);
        b = *node_lb;
        b[2] = std::max<int64_t>(b[2], t2_ + 1);
        no_new_shared_core = !(b < best_);
        b = *node_lb;
        b[3] = std::max<int64_t>(b[3], used_pkgs_ + 1);
        no_new_pkg = !P.hungry && !(b < best_);
    }
    auto pus_of_core = [&](int k) {
        uint32_t seen_keys = 0;
        for (int i = std::max(lo, L.core_begin[k]); i < L.core_end[k]; ++i) {
            if (!can_place(c, i)) continue;
            if (cnt_pu_[i] == 0) {
                if (no_shared_pu && P.others[i]) continue;
                uint32_t bit = 1u << P.pu_key[i];
                if (seen_keys & bit) continue;
                seen_keys |= bit;
            } else if (no_shared_pu) {
                continue;  // stacking adds pairs on a PU
            }
            f(i);
        }
    };
    if (core_anchor >= 0) {
        if (L.core_end[core_anchor] > lo) pus_of_core(core_anchor);
        return;
    }
    // Content classes seen at each level, marked with an epoch per parent.
    const int pkg_epoch = ++epoch_;
    for (int p = 0; p < L.npkg; ++p) {
        if (L.pkg_end[p] <= lo || P.pkg_max_allowed[p] < lv) continue;
        if (pkg_anchor >= 0 && p != pkg_anchor) continue;
        if (cnt_pkg_[p] == 0) {
            if (no_new_pkg) continue;
            if (P.pkg_symmetry && L.pkg_begin[p] >= lo) {
                int& mark = pkg_seen_[P.pkg_state[p]];
                if (mark == pkg_epoch) continue;
                mark = pkg_epoch;
            }
        }
        const int seg_epoch = ++epoch_;
        for (int s = L.pkg_seg_begin[p]; s < L.pkg_seg_end[p]; ++s) {
            if (L.seg_end[s] <= lo || P.seg_max_allowed[s] < lv) continue;
            if (cnt_seg_[s] == 0 && L.seg_l3_whole[s] && L.seg_begin[s] >= lo) {
                int& mark = seg_seen_[P.seg_class[s]];
                if (mark == seg_epoch) continue;
                mark = seg_epoch;
            }
            const int core_epoch = ++epoch_;
            for (int k = L.seg_core_begin[s]; k < L.seg_core_end[s]; ++k) {
                if (L.core_end[k] <= lo || P.core_max_allowed[k] < lv) continue;
                if (numa_anchor >= 0 && L.core_numa[k] != numa_anchor) continue;
                if (cnt_core_[k] == 0) {
                    if (no_new_shared_core && P.core_others[k]) continue;
                    if (L.core_begin[k] >= lo) {
                        int& mark = core_seen_[P.core_class[k]];
                        if (mark == core_epoch) continue;
                        mark = core_epoch;
                    }
                }
                pus_of_core(k);
            }
        }
    }
}

void Search::record_leaf() {
    if (stacked_ > 0 && avail_[0] > 0) return;
    Objective o = objective();
    if (!have_best_ || o < best_) {
        best_ = o;
        best_pos_ = pos_;
        have_best_ = true;
        stats_.found = true;
    }
    if (first_only_) stop_ = true;
}

void Search::dfs(int depth) {
    if (depth == P.n) {
        record_leaf();
        return;
    }
    if (++stats_.nodes > node_limit_) {
        stop_ = true;
        return;
    }
    const Objective node_lb = lower_bound(P.hungry);
    if (have_best_ && !(node_lb < best_)) return;
    const int c = P.order[depth];
    const int prev = P.prev_same[depth];
    const int lo = !ordered_ || prev < 0 ? 0 : pos_[P.order[prev]] + (P.lvl[c] == 0 ? 0 : 1);
    std::vector<Cand>& cands = cand_buf_[depth];
    cands.clear();
    enumerate(c, lo, &node_lb, [&](int i) {
        place(c, i);
        if (feasible_after()) {
            Objective lb = lower_bound(false);
            if (!have_best_ || lb < best_) cands.push_back({lb, i});
        }
        unplace(c, i);
    });
    if (cands.empty() && depth > stats_.fail_depth) {
        stats_.fail_depth = depth;
        stats_.fail_cpu = c;
    }
    std::stable_sort(cands.begin(), cands.end(),
                     [](const Cand& a, const Cand& b) { return a.lb < b.lb; });
    for (size_t j = 0; j < cands.size(); ++j) {
        // cand_buf_[depth] is not touched by deeper levels, so the reference stays valid.
        const Cand cd = cands[j];
        if (have_best_ && !(cd.lb < best_)) break;
        place(c, cd.pu);
        dfs(depth + 1);
        unplace(c, cd.pu);
        if (stop_) return;
    }
}

void Search::branch_and_bound(long node_limit, bool first_only, bool ordered) {
    stop_ = false;
    first_only_ = first_only;
    ordered_ = ordered;
    node_limit_ = stats_.nodes + node_limit;
    dfs(0);
    stats_.complete = !stop_;
}

void Search::local_search(long eval_limit) {
    if (!have_best_) return;
    for (int c = 0; c < P.n; ++c) place(c, best_pos_[c]);
    auto final_ok = [&] { return !(stacked_ > 0 && avail_[0] > 0); };
    bool improved = true;
    while (improved && stats_.ls_evals < eval_limit) {
        improved = false;
        // Single moves: each CPU to its best PU given the others.
        for (int k = 0; k < P.n && stats_.ls_evals < eval_limit; ++k) {
            const int c = P.order[k];
            const int i0 = pos_[c];
            Objective bo = objective();
            int bi = i0;
            unplace(c, i0);
            enumerate(c, 0, nullptr, [&](int i) {
                if (i == i0 || stats_.ls_evals >= eval_limit) return;
                ++stats_.ls_evals;
                place(c, i);
                if (final_ok()) {
                    Objective o = objective();
                    if (o < bo) {
                        bo = o;
                        bi = i;
                    }
                }
                unplace(c, i);
            });
            place(c, bi);
            if (bi != i0) {
                improved = true;
                ++stats_.ls_moves;
            }
        }
        // Swaps of CPUs of different types (e.g. a strict and a lax CPU).
        for (int a = 0; a < P.n && stats_.ls_evals < eval_limit; ++a) {
            for (int b = a + 1; b < P.n && stats_.ls_evals < eval_limit; ++b) {
                if (P.type_of[a] == P.type_of[b] || pos_[a] == pos_[b]) continue;
                const int ia = pos_[a], ib = pos_[b];
                Objective before = objective();
                ++stats_.ls_evals;
                unplace(a, ia);
                unplace(b, ib);
                bool ok = false;
                if (can_place(a, ib)) {
                    place(a, ib);
                    if (can_place(b, ia)) {
                        place(b, ia);
                        ok = final_ok() && objective() < before;
                        if (!ok) unplace(b, ia);
                    }
                    if (!ok) unplace(a, ib);
                }
                if (ok) {
                    improved = true;
                    ++stats_.ls_moves;
                } else {
                    place(a, ia);
                    place(b, ib);
                }
            }
        }
    }
    best_ = objective();
    best_pos_ = pos_;
    for (int c = 0; c < P.n; ++c) unplace(c, pos_[c]);
}

}  // namespace vtasos::solver_detail
