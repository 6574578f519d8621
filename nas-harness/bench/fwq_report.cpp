#include "fwq_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <numeric>

#include "stats.h"
#include "util.h"

namespace vtasos::bench {

std::vector<double> fwq_cdf_probabilities() {
    std::vector<double> p;
    for (int i = 0; i < 100; ++i) p.push_back(i / 100.0);
    for (double x : {0.995, 0.999, 0.9999, 1.0}) p.push_back(x);
    return p;
}

FwqResult compute_fwq(const std::vector<std::vector<double>>& times_ns, long work_per_quantum) {
    FwqResult r;
    r.work_per_quantum = work_per_quantum;
    std::vector<double> detours;
    double total = 0, total_detour = 0;
    double quantum = 0;
    bool first = true;
    for (const auto& t : times_ns) {
        if (t.empty()) continue;
        ++r.threads;
        r.samples_per_thread = std::max<long>(r.samples_per_thread, static_cast<long>(t.size()));
        double mn = *std::min_element(t.begin(), t.end());
        quantum = first ? mn : std::min(quantum, mn);
        first = false;
        for (double x : t) {
            detours.push_back(x - mn);
            total += x;
            total_detour += x - mn;
        }
    }
    if (detours.empty()) return r;
    r.quantum_ns = quantum;
    std::sort(detours.begin(), detours.end());
    r.detour_min_ns = detours.front();
    r.detour_median_ns = quantile(detours, 0.5);
    r.detour_p99_ns = quantile(detours, 0.99);
    r.detour_max_ns = detours.back();
    r.noise_fraction = total > 0 ? total_detour / total : 0;
    for (double p : fwq_cdf_probabilities()) r.cdf.emplace_back(p, quantile(detours, p));
    return r;
}

std::string format_fwq_report(const FwqResult& r) {
    std::string s = "\n FWQ Benchmark Completed.\n";
    s += fmt::format(" Threads          = {:>12}\n", r.threads);
    s += fmt::format(" Samples/thread   = {:>12}\n", r.samples_per_thread);
    s += fmt::format(" Work/quantum     = {:>12}\n", r.work_per_quantum);
    s += fmt::format(" Quantum ns       = {:>12.0f}\n", r.quantum_ns);
    s += fmt::format(" Detour min ns    = {:>12.0f}\n", r.detour_min_ns);
    s += fmt::format(" Detour median ns = {:>12.0f}\n", r.detour_median_ns);
    s += fmt::format(" Detour p99 ns    = {:>12.0f}\n", r.detour_p99_ns);
    s += fmt::format(" Detour max ns    = {:>12.0f}\n", r.detour_max_ns);
    s += fmt::format(" Noise fraction   = {:>12.6f}\n", r.noise_fraction);
    s += " CDF              =";
    for (const auto& [p, d] : r.cdf) s += fmt::format(" {:g}:{:.0f}", p, d);
    s += "\n";
    return s;
}

Result<FwqResult> parse_fwq_report(std::string_view text) {
    auto at = text.find("FWQ Benchmark Completed");
    if (at == std::string_view::npos)
        return make_error(Errc::kParse, "fwq report: no 'FWQ Benchmark Completed' line found");
    std::map<std::string, std::string> kv;
    size_t pos = text.find('\n', at);
    while (pos != std::string_view::npos && pos < text.size()) {
        size_t nl = text.find('\n', pos + 1);
        auto line =
            trim(text.substr(pos + 1, (nl == std::string_view::npos ? text.size() : nl) - pos - 1));
        auto eq = line.find('=');
        if (eq != std::string_view::npos)
            kv[std::string(trim(line.substr(0, eq)))] = std::string(trim(line.substr(eq + 1)));
        pos = nl;
    }
    FwqResult r;
    std::vector<std::string> missing;
    auto num = [&](const char* key, double* out) -> Status {
        auto it = kv.find(key);
        if (it == kv.end()) {
            missing.emplace_back(key);
            return {};
        }
        char* end = nullptr;
        *out = std::strtod(it->second.c_str(), &end);
        if (it->second.empty() || *end != '\0')
            return make_error(Errc::kParse, fmt::format("fwq report: field '{}' = '{}' is not a "
                                                        "number",
                                                        key, it->second));
        return {};
    };
    double threads = 0, samples = 0, work = 0;
    for (auto [key, out] : std::initializer_list<std::pair<const char*, double*>>{
             {"Threads", &threads},
             {"Samples/thread", &samples},
             {"Work/quantum", &work},
             {"Quantum ns", &r.quantum_ns},
             {"Detour min ns", &r.detour_min_ns},
             {"Detour median ns", &r.detour_median_ns},
             {"Detour p99 ns", &r.detour_p99_ns},
             {"Detour max ns", &r.detour_max_ns},
             {"Noise fraction", &r.noise_fraction}}) {
        auto st = num(key, out);
        if (!st) return st.error();
    }
    auto cdf = kv.find("CDF");
    if (cdf == kv.end()) missing.emplace_back("CDF");
    if (!missing.empty())
        return make_error(Errc::kParse, "fwq report: missing field(s): " + join(missing, ", ") +
                                            " (truncated output?)");
    r.threads = static_cast<int>(threads);
    r.samples_per_thread = static_cast<long>(samples);
    r.work_per_quantum = static_cast<long>(work);
    for (const auto& item : split_list(cdf->second, ' ')) {
        auto colon = item.find(':');
        char* e1 = nullptr;
        char* e2 = nullptr;
        std::string p = item.substr(0, colon),
                    d = colon == std::string::npos ? "" : item.substr(colon + 1);
        double pv = std::strtod(p.c_str(), &e1), dv = std::strtod(d.c_str(), &e2);
        if (colon == std::string::npos || *e1 != '\0' || *e2 != '\0' || p.empty() || d.empty())
            return make_error(Errc::kParse, "fwq report: bad CDF point '" + item + "'");
        r.cdf.emplace_back(pv, dv);
    }
    return r;
}

}  // namespace vtasos::bench
