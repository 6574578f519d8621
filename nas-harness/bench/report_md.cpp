#include "report_md.h"

#include <fmt/format.h>

#include <cmath>

#include "util.h"

namespace vtasos::bench {
using nlohmann::json;

namespace {

std::string num(double x, int prec) {
    if (!std::isfinite(x)) return "–";
    return fmt::format("{:.{}f}", x, prec);
}

// "1.234 [1.200, 1.300]"
std::string with_ci(const Summary& s, int prec) {
    if (s.n == 0) return "–";
    if (s.n == 1) return num(s.center, prec);
    return fmt::format("{} [{}, {}]", num(s.center, prec), num(s.ci.low, prec),
                       num(s.ci.high, prec));
}

std::string ratio_cell(const std::optional<Comparison>& c) {
    if (!c) return "–";
    if (c->verdict == Verdict::kInsufficientData && c->ratio_ci.low == c->ratio_ci.high)
        return num(c->ratio, 3);
    return fmt::format("{} [{}, {}]", num(c->ratio, 3), num(c->ratio_ci.low, 3),
                       num(c->ratio_ci.high, 3));
}

std::string verdict_cell(const std::optional<Comparison>& c, bool is_baseline) {
    if (is_baseline) return "baseline";
    if (!c) return "not compared (no successful runs on one side)";
    return describe_time_ratio(*c);
}

std::string md_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '|')
            out += "\\|";
        else if (c == '\n')
            out += ' ';
        else
            out += c;
    }
    return out;
}

std::string us(double ns) { return num(ns / 1000.0, 2); }

std::string jstr(const json& j, const char* key, const std::string& fallback = "unknown") {
    if (j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty())
        return j[key].get<std::string>();
    if (j.contains(key) && j[key].is_number()) return j[key].dump();
    return fallback;
}

}  // namespace

std::string results_tables_md(const Analysis& a) {
    auto verdict_of = [&](const std::optional<Comparison>& c, const std::string& variant) {
        if (variant != a.baseline && (a.emulated.count(variant) || a.emulated.count(a.baseline)))
            return std::string("not compared (emulated: TCG)");
        return verdict_cell(c, variant == a.baseline);
    };
    std::string s;
    if (a.experiment == "scaling" || a.experiment == "overhead") {
        const char* what = a.experiment == "overhead" ? "tool" : "mode";
        s += fmt::format(
            "| kernel | class | threads | {} | ok/runs | time s, median [95% CI] | CV | Mop/s, "
            "median [95% CI] | time ratio vs {} [95% CI] | verdict |\n",
            what, a.baseline);
        s += "|---|---|---:|---|---:|---:|---:|---:|---:|---|\n";
        for (const auto& r : a.scaling) {
            s += fmt::format(
                "| {} | {} | {} | {} | {}/{} | {} | {} | {} | {} | {} |\n", r.benchmark, r.cls,
                r.threads, r.variant, r.counts.ok, r.counts.attempted, with_ci(r.time, 3),
                r.time.n > 1 ? num(r.time.cv * 100, 1) + " %" : "–", with_ci(r.mops, 1),
                r.variant == a.baseline ? (r.time.n ? "1" : "–") : ratio_cell(r.vs_baseline),
                verdict_of(r.vs_baseline, r.variant));
        }
    } else if (a.experiment == "pairs") {
        s += fmt::format(
            "| pair | benchmark | config | ok/runs | mean time s [95% CI] | ratio vs {} [95% "
            "CI] | verdict |\n",
            a.baseline);
        s += "|---|---|---|---:|---:|---:|---|\n";
        for (const auto& r : a.pairs)
            s += fmt::format(
                "| {} | {} | {} | {}/{} | {} | {} | {} |\n", r.group, r.benchmark, r.variant,
                r.counts.ok, r.counts.attempted, with_ci(r.time, 3),
                r.variant == a.baseline ? (r.time.n ? "1" : "–") : ratio_cell(r.vs_baseline),
                verdict_of(r.vs_baseline, r.variant));
    } else if (a.experiment == "corun") {
        s += fmt::format(
            "| apps | policy | reps | makespan s, median [95% CI] | per-app wall s (median) | "
            "ratio vs {} [95% CI] | verdict |\n",
            a.baseline);
        s += "|---|---|---:|---:|---|---:|---|\n";
        for (const auto& r : a.corun) {
            std::vector<std::string> apps;
            for (const auto& [app, sm] : r.per_app) apps.push_back(app + " " + num(sm.center, 3));
            s += fmt::format(
                "| {} | {} | {} | {} | {} | {} | {} |\n", r.group, r.variant, r.reps,
                with_ci(r.makespan, 3), apps.empty() ? "–" : join(apps, ", "),
                r.variant == a.baseline ? (r.makespan.n ? "1" : "–") : ratio_cell(r.vs_baseline),
                verdict_of(r.vs_baseline, r.variant));
        }
    } else if (a.experiment == "noise") {
        s += "| mode | threads | reps | samples/thread | quantum µs | detour min µs | median µs | "
             "p99 µs | max µs | noise fraction |\n";
        s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        for (const auto& r : a.noise)
            s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.variant,
                             r.fwq.threads, r.reps, r.fwq.samples_per_thread, us(r.fwq.quantum_ns),
                             us(r.fwq.detour_min_ns), us(r.fwq.detour_median_ns),
                             us(r.fwq.detour_p99_ns), us(r.fwq.detour_max_ns),
                             fmt::format("{:.3e}", r.fwq.noise_fraction));
    }
    return s;
}

std::string report_md(const ResultsDoc& doc, const Analysis& a,
                      const std::vector<std::string>& charts) {
    std::string s = fmt::format("# vtasos-bench {}\n\n", doc.experiment);
    s += fmt::format(
        "- Started {}, finished {}{}\n", doc.started_utc, doc.finished_utc,
        doc.interrupted ? " — **interrupted** (Ctrl-C): results below are partial" : "");
    s += fmt::format("- Command: `{}`\n", shell_quote(doc.command_line));
    const auto& m = doc.machine;
    s +=
        fmt::format("- Machine: {}; {} logical CPUs, {} cores, {} socket(s), {} NUMA node(s); {}\n",
                    jstr(m, "cpu_model"), jstr(m, "logical_cpus", "?"), jstr(m, "cores", "?"),
                    jstr(m, "sockets", "?"), jstr(m, "numa_nodes", "?"),
                    jstr(m, "virtualization", "virtualization unknown"));
    s += fmt::format("- OS: {}; kernel {}\n", jstr(m, "os"), jstr(m, "kernel"));
    s += fmt::format("- vtasos {} (git {}); compiler {}\n", jstr(doc.tool, "version"),
                     jstr(m, "vtasos_git_revision"), jstr(m, "compiler"));
    const auto& p = doc.parameters;
    if (doc.experiment == "pairs") {
        s += fmt::format(
            "- Method: each pair started together and each program re-run until the budget ({}) "
            "ended; runs that ended after the partner stopped are not counted; {} warm-up run(s) "
            "per program discarded; mean with 95 % bootstrap CI ({} resamples, seed {}).\n",
            jstr(p, "budget", "?"), jstr(p, "warmup", "?"), kBootstrapResamples,
            jstr(p, "seed", "?"));
    } else {
        s += fmt::format(
            "- Method: {} repetition(s) per cell after {} discarded warm-up run(s), interleaved "
            "across {} (ABAB); median with 95 % bootstrap CI ({} resamples, seed {}); CV = "
            "stdev/mean.\n",
            jstr(p, "reps", "?"), jstr(p, "warmup", "?"),
            doc.experiment == "corun" ? "policies" : "variants", kBootstrapResamples,
            jstr(p, "seed", "?"));
    }
    s += fmt::format(
        "- A difference is claimed only with at least {} samples per side, when the ratio's 95 % "
        "CI excludes 1 and the two CIs do not overlap; otherwise the verdict is \"no significant "
        "difference\".\n",
        kMinSamplesForVerdict);
    if (doc.experiment == "scaling" || doc.experiment == "overhead")
        s += "- time ratio = time(variant) / time(baseline), computed from Mop/s (same operation "
             "count, full precision; NPB prints the time with 2 decimals). Below 1 is faster.\n";

    s += "\n## Variants\n\n| variant | status | reason / detail |\n|---|---|---|\n";
    for (const auto& v : doc.variants)
        s += fmt::format(
            "| {} | {} | {} |\n", v.name,
            v.available ? (v.name == doc.baseline ? "ran (baseline)"
                           : v.emulated            ? "ran, **emulated** (" + v.accel +
                                                         "): not compared with the baseline"
                                                   : std::string("ran"))
                        : "**skipped**",
            md_escape(v.available ? v.detail : v.reason));

    s += "\n## Results\n\n";
    s += results_tables_md(a);

    std::vector<const RunRecord*> bad;
    for (const auto& r : doc.runs)
        if (r.status != RunStatus::kOk) bad.push_back(&r);
    if (!bad.empty()) {
        s += fmt::format("\n## Runs that did not succeed ({})\n\n", bad.size());
        s += "| id | benchmark | variant | threads | rep | status | error | stderr log |\n";
        s += "|---:|---|---|---:|---:|---|---|---|\n";
        for (const auto* r : bad)
            s += fmt::format(
                "| {} | {} | {} | {} | {}{} | {} | {} | {} |\n", r->id, r->benchmark, r->variant,
                r->threads, r->rep, r->warmup ? " (warm-up)" : "", run_status_name(r->status),
                md_escape(r->error),
                r->stderr_log.empty() ? "–" : "[" + r->stderr_log + "](" + r->stderr_log + ")");
    }
    if (!doc.notes.empty()) {
        s += "\n## Notes\n\n";
        for (const auto& n : doc.notes) s += "- " + md_escape(n) + "\n";
    }
    s += "\n## Charts\n\n";
    if (charts.empty()) s += "No charts (see notes).\n";
    for (const auto& c : charts)
        if (c.ends_with(".svg")) s += fmt::format("![{}]({})\n\n", c, c);
    s += "\nRaw data: [results.json](results.json), [results.csv](results.csv).\n";
    return s;
}

}  // namespace vtasos::bench
