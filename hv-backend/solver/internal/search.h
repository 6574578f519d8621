// The placement search over a compiled Problem.
//
// State: for every CPU of the request its PU (or -1), with per-unit counters
// that keep every objective term and its lower bound up to date in O(1) per
// placed CPU. Two drivers use it:
//  - depth-first branch and bound over CPUs in Problem::order, children
//    sorted by lower bound; symmetry breaking: CPUs of one type take PUs in
//    non-decreasing order, and among clean (untouched) sibling units with
//    identical content only the first is tried (see enumerate());
//  - local search (single-CPU moves and swaps of CPUs of different types)
//    from the best assignment found.
#pragma once

#include <cstdint>
#include <vector>

#include "problem.h"

namespace vtasos::solver_detail {

struct SearchStats {
    long nodes = 0;
    long ls_evals = 0;
    long ls_moves = 0;
    bool complete = false;  // branch and bound finished: best is optimal
    bool found = false;
    // Deepest point where no PU was left for a CPU (for infeasibility reports).
    int fail_depth = -1;
    int fail_cpu = -1;
};

class Search {
public:
    explicit Search(const Problem& p);

    // Branch and bound up to `node_limit` nodes. When `first_only`, stops at
    // the first complete assignment (a greedy dive with backtracking).
    // `ordered` turns on the symmetry breaking between CPUs of one type (see
    // search.cpp): needed to finish an exact search, but it makes a greedy
    // dive run into dead ends (a spread tenant's first CPUs would take the
    // last package and leave no room above it), so dives go without it.
    void branch_and_bound(long node_limit, bool first_only, bool ordered);
    // Improves the best assignment by single moves and swaps.
    void local_search(long eval_limit);

    const SearchStats& stats() const { return stats_; }
    bool found() const { return stats_.found; }
    const Objective& best() const { return best_; }
    const std::vector<int>& best_pos() const { return best_pos_; }  // per CPU, search PU index

private:
    void place(int c, int pu);
    void unplace(int c, int pu);
    void shared_core_capacity(int core, int pkg, int sign);
    void shared_hist(int core, int sign);
    bool can_place(int c, int pu) const;
    bool feasible_after() const;
    Objective objective() const;
    Objective lower_bound(bool strong) const;
    int64_t spread_pairs_bound(int minl, bool no_new_shared_core) const;
    // Calls f(pu) for every candidate PU of CPU c at or above lo, one per
    // symmetry class; node_lb (may be null) lets it skip hopeless kinds.
    template <typename F>
    void enumerate(int c, int lo, const Objective* node_lb, F&& f);
    void dfs(int depth);
    void record_leaf();
    int64_t pkg_over(int p) const;
    int64_t pkg_slack(int p) const;

    const Problem& P;
    const Layout& L;
    // Assignment.
    std::vector<int> pos_;
    std::vector<int> cnt_pu_, nonpu_pu_, cnt_core_, cnt_seg_, cnt_pkg_, cnt_l3_;
    std::vector<std::array<int, kLevels>> avail_pkg_, avail_numa_;
    std::array<int, kLevels> avail_{};           // fresh PUs with allowed >= L
    std::array<int64_t, kLevels> used_avail_{};  // same, summed over used packages
    std::array<int, kLevels> rem_{};             // unplaced CPUs per level
    std::vector<int> group_placed_, group_anchor_;
    std::array<int, kLevels> hostable_{};  // unused packages with avail_pkg_[p][L] > 0
    // The same split by whether using the PU adds a shared core: fresh PUs in
    // cores without other tenants (clean) and in shared cores the tenant
    // already uses (ushared).
    std::vector<std::array<int, kLevels>> clean_pkg_, ushared_pkg_;
    std::array<int, kLevels> clean_{}, ushared_{}, hostable_clean_{};
    // Unused shared cores by number of PUs with allowed >= L: [L][count].
    std::array<std::vector<int>, kLevels> shared_hist_;
    int placed_ = 0, stacked_ = 0, used_pkgs_ = 0, used_cores_ = 0, used_l3_ = 0;
    int64_t t1_ = 0, t2_ = 0, t4_ = 0, t5p_ = 0, over_ = 0, slack_ = 0;
    // Search bookkeeping.
    struct Cand {
        Objective lb;
        int pu;
    };
    std::vector<std::vector<Cand>> cand_buf_;
    // Scratch for enumerate(): epoch at which a content class was last seen.
    std::vector<int> pkg_seen_, seg_seen_, core_seen_;
    int epoch_ = 0;
    bool have_best_ = false, stop_ = false, first_only_ = false, ordered_ = true;
    long node_limit_ = 0;
    Objective best_{};
    std::vector<int> best_pos_;
    SearchStats stats_;
};

}  // namespace vtasos::solver_detail
