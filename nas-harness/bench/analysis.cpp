#include "analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "util.h"

namespace vtasos::bench {
using nlohmann::json;

namespace {

template <typename Key>
void add_unique(std::vector<Key>& order, const Key& k) {
    if (std::find(order.begin(), order.end(), k) == order.end()) order.push_back(k);
}

uint64_t seed_of(const ResultsDoc& doc) {
    if (doc.parameters.contains("seed") && doc.parameters["seed"].is_number_unsigned())
        return doc.parameters["seed"].get<uint64_t>();
    return kDefaultSeed;
}

void count(RunCounts& c, const RunRecord& r) {
    if (r.warmup || !r.counted || r.status == RunStatus::kInterrupted) return;
    ++c.attempted;
    if (r.status == RunStatus::kOk)
        ++c.ok;
    else
        ++c.failed;
}

void analyze_scaling(const ResultsDoc& doc, uint64_t seed, Analysis& a) {
    using Key = std::tuple<std::string, std::string, int>;  // benchmark, class, threads
    std::vector<Key> keys;
    for (const auto& r : doc.runs) add_unique(keys, Key{r.benchmark, r.cls, r.threads});
    for (const auto& [bench, cls, threads] : keys) {
        struct Samples {
            std::vector<double> time, mops, wall;
            RunCounts counts;
        };
        std::map<std::string, Samples> by_variant;
        for (const auto& r : doc.runs) {
            if (r.benchmark != bench || r.cls != cls || r.threads != threads) continue;
            auto& s = by_variant[r.variant];
            count(s.counts, r);
            if (!r.usable() || !r.npb) continue;
            s.time.push_back(r.npb->time_s);
            s.mops.push_back(r.npb->mops_total);
            s.wall.push_back(r.wall_s);
        }
        const Samples* base = nullptr;
        if (auto it = by_variant.find(a.baseline); it != by_variant.end()) base = &it->second;
        for (const auto& variant : a.variants) {
            auto it = by_variant.find(variant);
            if (it == by_variant.end()) continue;
            const auto& s = it->second;
            ScalingRow row{bench, cls, variant, threads, s.counts, {}, {}, {}, {}, {}};
            uint64_t cell = seed ^ fnv1a(fmt::format("{}/{}/{}/{}", bench, cls, threads, variant));
            row.time = summarize(s.time, Statistic::kMedian, cell);
            row.mops = summarize(s.mops, Statistic::kMedian, cell + 1);
            row.wall = summarize(s.wall, Statistic::kMedian, cell + 2);
            if (base && variant != a.baseline && !s.time.empty() && !base->time.empty()) {
                auto positive = [](const std::vector<double>& v) {
                    return std::all_of(v.begin(), v.end(), [](double x) { return x > 0; });
                };
                if (positive(s.mops) && positive(base->mops)) {
                    // time ratio = Mop/s(base) / Mop/s(variant)
                    row.vs_baseline = compare(s.mops, base->mops, Statistic::kMedian, cell + 3);
                    row.ratio_basis = "mops";
                } else {
                    row.vs_baseline = compare(base->time, s.time, Statistic::kMedian, cell + 3);
                    row.ratio_basis = "time";
                }
            }
            a.scaling.push_back(std::move(row));
        }
    }
}

void analyze_pairs(const ResultsDoc& doc, uint64_t seed, Analysis& a) {
    using Key = std::tuple<std::string, int, std::string>;  // group, slot, benchmark
    std::vector<Key> keys;
    std::vector<std::string> groups;
    for (const auto& r : doc.runs) {
        add_unique(keys, Key{r.group, r.slot, r.benchmark});
        add_unique(groups, r.group);
    }
    // Pairs in the order they ran, each in slot order.
    auto group_index = [&](const std::string& g) {
        return std::find(groups.begin(), groups.end(), g) - groups.begin();
    };
    std::stable_sort(keys.begin(), keys.end(), [&](const Key& x, const Key& y) {
        auto gx = group_index(std::get<0>(x)), gy = group_index(std::get<0>(y));
        return gx != gy ? gx < gy : std::get<1>(x) < std::get<1>(y);
    });
    for (const auto& [group, slot, bench] : keys) {
        std::map<std::string, std::pair<std::vector<double>, RunCounts>> by_variant;
        for (const auto& r : doc.runs) {
            if (r.group != group || r.slot != slot || r.benchmark != bench) continue;
            auto& s = by_variant[r.variant];
            count(s.second, r);
            if (r.usable() && r.npb) s.first.push_back(r.npb->time_s);
        }
        const std::vector<double>* base = nullptr;
        if (auto it = by_variant.find(a.baseline); it != by_variant.end()) base = &it->second.first;
        for (const auto& variant : a.variants) {
            auto it = by_variant.find(variant);
            if (it == by_variant.end()) continue;
            uint64_t cell = seed ^ fnv1a(fmt::format("{}/{}/{}/{}", group, slot, bench, variant));
            PairRow row{group, bench, variant, slot, it->second.second, {}, {}};
            row.time = summarize(it->second.first, Statistic::kMean, cell);
            if (base && variant != a.baseline && !base->empty() && !it->second.first.empty())
                row.vs_baseline = compare(*base, it->second.first, Statistic::kMean, cell + 1);
            a.pairs.push_back(std::move(row));
        }
    }
}

void analyze_corun(const ResultsDoc& doc, uint64_t seed, Analysis& a) {
    std::vector<std::string> groups;
    for (const auto& r : doc.runs) add_unique(groups, r.group);
    for (const auto& group : groups) {
        std::map<std::string, std::vector<double>> makespans;
        std::map<std::string, std::map<std::string, std::vector<double>>> per_app;
        std::map<std::string, size_t> reps;
        for (const auto& variant : a.variants) {
            std::map<int, std::vector<const RunRecord*>> by_rep;
            for (const auto& r : doc.runs)
                if (r.group == group && r.variant == variant && !r.warmup)
                    by_rep[r.rep].push_back(&r);
            for (const auto& [rep, runs] : by_rep) {
                bool all_ok = std::all_of(runs.begin(), runs.end(),
                                          [](const RunRecord* r) { return r->usable(); });
                if (!all_ok || runs.empty()) continue;
                double start = runs.front()->start_s, m = 0;
                for (const auto* r : runs) start = std::min(start, r->start_s);
                for (const auto* r : runs) {
                    m = std::max(m, r->start_s + r->wall_s - start);
                    per_app[variant][r->benchmark].push_back(r->wall_s);
                }
                makespans[variant].push_back(m);
                ++reps[variant];
            }
        }
        const std::vector<double>* base = nullptr;
        if (auto it = makespans.find(a.baseline); it != makespans.end()) base = &it->second;
        for (const auto& variant : a.variants) {
            bool ran = std::any_of(doc.runs.begin(), doc.runs.end(), [&](const RunRecord& r) {
                return r.group == group && r.variant == variant;
            });
            if (!ran) continue;
            uint64_t cell = seed ^ fnv1a(group + "/" + variant);
            CorunRow row{group, variant, reps[variant], {}, {}, {}};
            row.makespan = summarize(makespans[variant], Statistic::kMedian, cell);
            for (const auto& [app, v] : per_app[variant])
                row.per_app[app] = summarize(v, Statistic::kMedian, cell ^ fnv1a(app));
            if (base && variant != a.baseline && !base->empty() && !makespans[variant].empty())
                row.vs_baseline = compare(*base, makespans[variant], Statistic::kMedian, cell + 1);
            a.corun.push_back(std::move(row));
        }
    }
}

void analyze_noise(const ResultsDoc& doc, Analysis& a) {
    for (const auto& variant : a.variants) {
        std::vector<const FwqResult*> runs;
        for (const auto& r : doc.runs)
            if (r.variant == variant && r.usable() && r.fwq) runs.push_back(&*r.fwq);
        if (runs.empty()) continue;
        NoiseRow row;
        row.variant = variant;
        row.reps = runs.size();
        auto med = [&](double FwqResult::*field) {
            std::vector<double> v;
            for (const auto* f : runs) v.push_back(f->*field);
            return median(v);
        };
        row.fwq = *runs.front();
        row.fwq.quantum_ns = med(&FwqResult::quantum_ns);
        row.fwq.detour_min_ns = med(&FwqResult::detour_min_ns);
        row.fwq.detour_median_ns = med(&FwqResult::detour_median_ns);
        row.fwq.detour_p99_ns = med(&FwqResult::detour_p99_ns);
        row.fwq.detour_max_ns = med(&FwqResult::detour_max_ns);
        row.fwq.noise_fraction = med(&FwqResult::noise_fraction);
        for (size_t i = 0; i < row.fwq.cdf.size(); ++i) {
            double sum = 0;
            size_t n = 0;
            for (const auto* f : runs)
                if (i < f->cdf.size()) {
                    sum += f->cdf[i].second;
                    ++n;
                }
            row.fwq.cdf[i].second = n ? sum / static_cast<double>(n) : 0;
        }
        a.noise.push_back(std::move(row));
    }
}

json summary_stats(const Summary& s) {
    auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
    return {{"n", s.n},
            {"center", num(s.center)},
            {"ci_low", num(s.ci.low)},
            {"ci_high", num(s.ci.high)},
            {"cv", num(s.cv)},
            {"min", num(s.min)},
            {"max", num(s.max)}};
}

json comparison_json(const std::optional<Comparison>& c, const std::string& baseline,
                     const std::string& basis) {
    if (!c) return nullptr;
    auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
    json j = {{"baseline", baseline},
              {"ratio", num(c->ratio)},
              {"ci_low", num(c->ratio_ci.low)},
              {"ci_high", num(c->ratio_ci.high)},
              {"verdict", std::string(verdict_name(c->verdict))},
              {"text", describe_time_ratio(*c)}};
    if (!basis.empty()) j["basis"] = basis;
    return j;
}

json counts_json(const RunCounts& c) {
    return {{"attempted", c.attempted}, {"ok", c.ok}, {"failed", c.failed}};
}

}  // namespace

Analysis analyze(const ResultsDoc& doc) {
    Analysis a;
    a.experiment = doc.experiment;
    a.baseline = doc.baseline;
    for (const auto& v : doc.variants)
        if (v.available) a.variants.push_back(v.name);
    const uint64_t seed = seed_of(doc);
    if (doc.experiment == "scaling" || doc.experiment == "overhead")
        analyze_scaling(doc, seed, a);
    else if (doc.experiment == "pairs")
        analyze_pairs(doc, seed, a);
    else if (doc.experiment == "corun")
        analyze_corun(doc, seed, a);
    else if (doc.experiment == "noise")
        analyze_noise(doc, a);
    // Emulated (TCG) guest variants never enter overhead comparisons, either side.
    std::set<std::string>& emulated = a.emulated;
    for (const auto& v : doc.variants)
        if (v.emulated) emulated.insert(v.name);
    const bool base_emulated = emulated.count(a.baseline) > 0;
    auto drop = [&](const std::string& variant, std::optional<Comparison>& c) {
        if (base_emulated || emulated.count(variant)) c.reset();
    };
    for (auto& r : a.scaling) drop(r.variant, r.vs_baseline);
    for (auto& r : a.pairs) drop(r.variant, r.vs_baseline);
    for (auto& r : a.corun) drop(r.variant, r.vs_baseline);
    return a;
}

json summary_json(const Analysis& a) {
    json out = json::array();
    for (const auto& r : a.scaling)
        out.push_back({{"kind", "cell"},
                       {"benchmark", r.benchmark},
                       {"class", r.cls},
                       {"threads", r.threads},
                       {"variant", r.variant},
                       {"runs", counts_json(r.counts)},
                       {"time_s", summary_stats(r.time)},
                       {"mops", summary_stats(r.mops)},
                       {"wall_s", summary_stats(r.wall)},
                       {"vs_baseline", comparison_json(r.vs_baseline, a.baseline, r.ratio_basis)}});
    for (const auto& r : a.pairs)
        out.push_back({{"kind", "pair"},
                       {"group", r.group},
                       {"slot", r.slot},
                       {"benchmark", r.benchmark},
                       {"variant", r.variant},
                       {"runs", counts_json(r.counts)},
                       {"mean_time_s", summary_stats(r.time)},
                       {"vs_baseline", comparison_json(r.vs_baseline, a.baseline, "time")}});
    for (const auto& r : a.corun) {
        json apps = json::object();
        for (const auto& [app, s] : r.per_app) apps[app] = summary_stats(s);
        out.push_back({{"kind", "corun"},
                       {"group", r.group},
                       {"variant", r.variant},
                       {"reps", r.reps},
                       {"makespan_s", summary_stats(r.makespan)},
                       {"per_app_wall_s", apps},
                       {"vs_baseline", comparison_json(r.vs_baseline, a.baseline, "time")}});
    }
    for (const auto& r : a.noise)
        out.push_back(
            {{"kind", "noise"}, {"variant", r.variant}, {"reps", r.reps}, {"fwq", to_json(r.fwq)}});
    return out;
}

}  // namespace vtasos::bench
