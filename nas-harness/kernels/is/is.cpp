// IS (Integer Sort): ranks 2^n integer keys (bucketed counting sort) ten times, checks five
// ranks per iteration against the NPB 3.4 test values, then checks the fully sorted sequence.
// Clean-room implementation from the specification in ../SPEC.md.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "npb.h"

namespace {

using Key = int;  // classes S..C have fewer than 2^31 keys

constexpr int kIterations = 10;
constexpr int kTests = 5;
constexpr double kSeed = 314159265.0;
constexpr double kMult = 1220703125.0;  // 5^13

struct ClassParams {
    int keys_log2;     // number of keys
    int max_key_log2;  // keys lie in [0, 2^max_key_log2)
    int buckets_log2;  // keys are first grouped by their top bits
    long test_index[kTests];
    long test_rank[kTests];
};

ClassParams params_for(npb::Class c) {
    switch (c) {
        case npb::Class::S:
            return {16, 11, 9, {48427, 17148, 23627, 62548, 4431}, {0, 18, 346, 64917, 65463}};
        case npb::Class::W:
            return {20,
                    16,
                    10,
                    {357773, 934767, 875723, 898999, 404505},
                    {1249, 11698, 1039987, 1043896, 1048018}};
        case npb::Class::A:
            return {23,
                    19,
                    10,
                    {2112377, 662041, 5336171, 3642833, 4250760},
                    {104, 17523, 123928, 8288932, 8388264}};
        case npb::Class::B:
            return {25,
                    21,
                    10,
                    {41869, 812306, 5102857, 18232239, 26860214},
                    {33422937, 10244, 59149, 33135281, 99}};
        case npb::Class::C:
            return {27,
                    23,
                    10,
                    {44172927, 72999161, 74326391, 129606274, 21736814},
                    {61147, 882988, 266290, 133997595, 133525895}};
    }
    return {};
}

// The expected rank of test key `t` at iteration `it`: the tabulated rank moved by the two keys
// each iteration overwrites (a small key `it` and a large key max_key - it), class by class.
long expected_rank(npb::Class c, int t, int it, long base) {
    switch (c) {
        case npb::Class::S:
            return t <= 2 ? base + it : base - it;
        case npb::Class::W:
            return t < 2 ? base + (it - 2) : base - it;
        case npb::Class::A:
            return t <= 2 ? base + (it - 1) : base - (it - 1);
        case npb::Class::B:
            return (t == 1 || t == 2 || t == 4) ? base + it : base - it;
        case npb::Class::C:
            return t <= 2 ? base + it : base - it;
    }
    return -1;
}

class Sorter {
public:
    Sorter(const ClassParams& p, int threads)
        : p_(p),
          n_(1L << p.keys_log2),
          max_key_(1L << p.max_key_log2),
          nbuckets_(1 << p.buckets_log2),
          shift_(p.max_key_log2 - p.buckets_log2),
          threads_(threads),
          keys_(new Key[n_]),
          bucketed_(new Key[n_]),
          rank_(new Key[max_key_]),
          counts_(static_cast<size_t>(threads) * nbuckets_),
          cursors_(static_cast<size_t>(threads) * nbuckets_),
          bucket_end_(nbuckets_) {}

    long n() const { return n_; }

    // Key i is floor(max_key/4 * (r1 + r2 + r3 + r4)) with r the (4i+1)..(4i+4)-th generator
    // values; each thread jumps straight to its first key's state.
    void generate() {
        const double quarter = static_cast<double>(max_key_ / 4);
#pragma omp parallel num_threads(threads_)
        {
            long lo, hi;
            my_range(&lo, &hi);
            double state = npb::lcg_skip(kSeed, kMult, 4 * lo);
            for (long i = lo; i < hi; ++i) {
                double x = npb::randlc(&state, kMult);
                x += npb::randlc(&state, kMult);
                x += npb::randlc(&state, kMult);
                x += npb::randlc(&state, kMult);
                keys_[i] = static_cast<Key>(quarter * x);
            }
            // Touch the other arrays from the threads that will use them.
            for (long i = lo; i < hi; ++i) bucketed_[i] = 0;
#pragma omp for schedule(static)
            for (long k = 0; k < max_key_; ++k) rank_[k] = 0;
        }
    }

    // One ranking pass; returns how many of the five test ranks match.
    int rank(npb::Class cls, int it) {
        keys_[it] = it;
        keys_[it + kIterations] = static_cast<Key>(max_key_ - it);
        Key probe[kTests];
        for (int t = 0; t < kTests; ++t) probe[t] = keys_[p_.test_index[t]];

        const long width = max_key_ >> p_.buckets_log2;  // key values per bucket
        // The team the runtime forks (malleable, like CG): a tool following vtasosd's
        // advice may change it between passes. Key ranges and count rows follow it.
#pragma omp parallel
        {
            const int me = omp_get_thread_num();
            const int nt = omp_get_num_threads();
#pragma omp single
            reserve(nt);  // the implicit barrier publishes it to the team
            long lo, hi;
            my_range(&lo, &hi);
            Key* count = &counts_[static_cast<size_t>(me) * nbuckets_];
            std::fill(count, count + nbuckets_, 0);
            for (long i = lo; i < hi; ++i) ++count[keys_[i] >> shift_];
#pragma omp barrier
            // Where this thread's keys of bucket b go: after all keys of lower buckets and after
            // the keys of bucket b held by lower-numbered threads. Turn count into that cursor.
            Key* cursor = &cursors_[static_cast<size_t>(me) * nbuckets_];
            long start = 0;
            for (int b = 0; b < nbuckets_; ++b) {
                long before_me = 0, total = 0;
                for (int t = 0; t < nt; ++t) {
                    const Key c = counts_[static_cast<size_t>(t) * nbuckets_ + b];
                    if (t < me) before_me += c;
                    total += c;
                }
                cursor[b] = static_cast<Key>(start + before_me);
                start += total;
                if (me == 0) bucket_end_[b] = static_cast<Key>(start);
            }
            for (long i = lo; i < hi; ++i) {
                const Key k = keys_[i];
                bucketed_[cursor[k >> shift_]++] = k;
            }
            if (me == 0) last_team_ = nt;
#pragma omp barrier
            // Inside each bucket a counting sort over its own key range: rank_[k] ends as the
            // number of keys <= k. Bucket sizes vary, hence the dynamic schedule.
#pragma omp for schedule(dynamic, 1)
            for (int b = 0; b < nbuckets_; ++b) {
                Key* r = rank_.get() + b * width;
                std::fill(r, r + width, 0);
                const long first = b > 0 ? bucket_end_[b - 1] : 0;
                const long last = bucket_end_[b];
                for (long i = first; i < last; ++i) ++rank_[bucketed_[i]];
                r[0] += static_cast<Key>(first);
                for (long k = 1; k < width; ++k) r[k] += r[k - 1];
            }
        }

        int passed = 0;
        for (int t = 0; t < kTests; ++t) {
            const long k = probe[t];
            if (k <= 0 || k > n_ - 1) continue;
            const long got = rank_[k - 1];  // keys strictly below k
            const long want = expected_rank(cls, t, it, p_.test_rank[t]);
            if (got == want) {
                ++passed;
            } else {
                std::printf("Failed partial verification: iteration %d, test key %d\n", it, t);
            }
        }
        return passed;
    }

    // Uses the last ranks to put every key in its final place, then counts keys out of order.
    // corrupt: test hook, spoils the first place so the check must fail.
    bool full_verify(bool corrupt) {
        long unsorted = 0;
#pragma omp parallel
        {
#pragma omp for schedule(dynamic, 1)
            for (int b = 0; b < nbuckets_; ++b) {
                const long first = b > 0 ? bucket_end_[b - 1] : 0;
                for (long i = first; i < bucket_end_[b]; ++i) {
                    const Key k = bucketed_[i];
                    keys_[--rank_[k]] = k;
                }
            }
#pragma omp single
            if (corrupt) keys_[0] = static_cast<Key>(max_key_ - 1);
#pragma omp for schedule(static) reduction(+ : unsorted)
            for (long i = 1; i < n_; ++i) unsorted += keys_[i - 1] > keys_[i];
        }
        if (unsorted != 0) std::printf("Full_verify: number of keys out of sort: %ld\n", unsorted);
        return unsorted == 0;
    }

    int last_team() const { return last_team_; }  // team size of the last rank()

private:
    // Count and cursor rows for a team of nt. Called by one thread.
    void reserve(int nt) {
        const size_t need = static_cast<size_t>(nt) * nbuckets_;
        if (counts_.size() < need) {
            counts_.resize(need);
            cursors_.resize(need);
        }
    }

    void my_range(long* lo, long* hi) const {
        const int me = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        const long per = (n_ + nt - 1) / nt;
        *lo = std::min(n_, per * me);
        *hi = std::min(n_, *lo + per);
    }

    ClassParams p_;
    long n_, max_key_;
    int nbuckets_, shift_, threads_;
    std::unique_ptr<Key[]> keys_, bucketed_, rank_;
    std::vector<Key> counts_;      // threads x buckets key counts
    std::vector<Key> cursors_;     // threads x buckets next free slot in bucketed_
    std::vector<Key> bucket_end_;  // one past the last slot of each bucket in bucketed_
    int last_team_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    const npb::Options opt = npb::parse_args(argc, argv, "is");
    const ClassParams p = params_for(opt.cls);
    const int threads = npb::threads_in_use();

    std::printf("\n\n NAS Parallel Benchmarks (vtasos clean-room C++/OpenMP) - IS Benchmark\n\n");
    std::printf(" Size:  %ld  (class %c)\n", 1L << p.keys_log2, npb::class_char(opt.cls));
    std::printf(" Iterations:  %d\n", kIterations);
    std::printf(" Number of available threads:  %d\n\n", omp_get_max_threads());

    Sorter sorter(p, threads);
    sorter.generate();
    sorter.rank(opt.cls, 1);  // untimed warm-up pass, as in NPB

    int passed = 0;
    const double t0 = npb::wtime();
    std::vector<int> teams;
    std::printf("\n   iteration\n");
    for (int it = 1; it <= kIterations; ++it) {
        if (opt.cls != npb::Class::S) {
            std::printf("        %d\n", it);
            std::fflush(stdout);  // progress for whoever watches (advice tests)
        }
        passed += sorter.rank(opt.cls, it);
        teams.push_back(sorter.last_team());
    }
    const double seconds = npb::wtime() - t0;
    if (const std::string changes = npb::team_changes(teams); !changes.empty())
        std::fprintf(stderr, " is: the team size changed between iterations: %s\n",
                     changes.c_str());

    passed += sorter.full_verify(opt.corrupt) ? 1 : 0;
    const bool verified = passed == kTests * kIterations + 1;

    npb::Report r;
    r.name = "IS";
    r.cls = opt.cls;
    r.n1 = sorter.n();
    r.niter = kIterations;
    r.seconds = seconds;
    r.mops = 1.0e-6 * static_cast<double>(sorter.n()) * kIterations / seconds;
    r.op_type = "keys ranked";
    r.verified = verified;
    r.threads = threads;
    npb::print_results(r);
    return verified ? 0 : 1;
}
