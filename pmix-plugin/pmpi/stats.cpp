#include "stats.h"

#include <fmt/format.h>

#include <algorithm>

namespace vtasos::pmpi {

std::string_view to_string(Category c) {
    switch (c) {
        case Category::kLife:
            return "life";
        case Category::kWait:
            return "wait";
        case Category::kP2p:
            return "p2p";
        case Category::kColl:
            return "coll";
    }
    return "?";
}

uint64_t Report::sync_calls() const {
    uint64_t n = 0;
    for (const auto& c : calls)
        if (c.category != Category::kLife) n += c.count;
    return n;
}

double Report::sync_s() const {
    uint64_t ns = 0;
    for (const auto& c : calls)
        if (c.category != Category::kLife) ns += c.ns;
    return static_cast<double>(ns) * 1e-9;
}

uint64_t Report::fortran_calls() const {
    uint64_t n = 0;
    for (const auto& c : calls) n += c.fortran;
    return n;
}

double Report::sync_fraction() const {
    if (wall_s <= 0) return 0;
    return std::clamp(sync_s() / wall_s, 0.0, 1.0);
}

double Report::sync_rate_hz() const {
    return wall_s > 0 ? static_cast<double>(sync_calls()) / wall_s : 0.0;
}

nlohmann::json Report::to_json() const {
    nlohmann::json per = nlohmann::json::object();
    for (const auto& c : calls) {
        if (c.count == 0) continue;
        per[c.name] = {{"category", to_string(c.category)},
                       {"count", c.count},
                       {"time_s", static_cast<double>(c.ns) * 1e-9},
                       {"fortran", c.fortran}};
    }
    return {{"rank", rank},
            {"size", size},
            {"tenant", tenant},
            {"wall_s", wall_s},
            {"sync_s", sync_s()},
            {"sync_fraction", sync_fraction()},
            {"sync_calls", sync_calls()},
            {"sync_rate_hz", sync_rate_hz()},
            {"fortran_calls", fortran_calls()},
            {"calls", per}};
}

nlohmann::json Report::observations() const {
    return {{"barrier_rate_hz", sync_rate_hz()},
            {"sync_fraction", sync_fraction()},
            {"note", fmt::format("mpi rank {}: {} sync calls in {:.3f} s ({:.1f}% waiting)", rank,
                                 sync_calls(), wall_s, 100.0 * sync_fraction())}};
}

std::string Report::summary() const {
    const CallCount* top = nullptr;
    for (const auto& c : calls)
        if (c.category != Category::kLife && c.count > 0 && (!top || c.count > top->count))
            top = &c;
    return fmt::format("rank {}: {} sync calls ({:.1f}/s, {:.1f}% of {:.4g} s), {} from Fortran{}",
                       rank, sync_calls(), sync_rate_hz(), 100.0 * sync_fraction(), wall_s,
                       fortran_calls(),
                       top ? fmt::format("; top: {} {}", top->name, top->count) : std::string());
}

std::string expand_path(std::string_view pattern, int rank, int pid) {
    std::string out;
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '%' && i + 1 < pattern.size()) {
            char n = pattern[i + 1];
            if (n == 'r') {
                out += std::to_string(rank);
                ++i;
                continue;
            }
            if (n == 'p') {
                out += std::to_string(pid);
                ++i;
                continue;
            }
            if (n == '%') {
                out += '%';
                ++i;
                continue;
            }
        }
        out += pattern[i];
    }
    return out;
}

}  // namespace vtasos::pmpi
