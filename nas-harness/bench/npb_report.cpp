#include "npb_report.h"

#include <charconv>
#include <cstdlib>
#include <vector>

#include "util.h"

namespace vtasos::bench {
namespace {

constexpr std::string_view kTitle = "Benchmark Completed";

std::string strip_blanks(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c != ' ' && c != '\t') out += c;
    return out;
}

Result<double> to_double(std::string_view key, std::string_view value) {
    std::string v(value);
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size())
        return make_error(Errc::kParse, "npb report: field '" + std::string(key) + "' = '" + v +
                                            "' is not a number");
    return d;
}

Result<long> to_long(std::string_view key, std::string_view value) {
    long n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || p != value.data() + value.size())
        return make_error(Errc::kParse, "npb report: field '" + std::string(key) + "' = '" +
                                            std::string(value) + "' is not an integer");
    return n;
}

}  // namespace

Result<NpbReport> parse_npb_report(std::string_view text) {
    // Split into lines; find the title.
    std::vector<std::string_view> lines;
    for (size_t pos = 0; pos <= text.size();) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        lines.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    size_t title = lines.size();
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].find(kTitle) != std::string_view::npos) {
            title = i;
            break;
        }
    }
    if (title == lines.size())
        return make_error(Errc::kParse,
                          "npb report: no '<NAME> Benchmark Completed' line found (the program "
                          "did not print an NPB report, or stopped before it)");

    NpbReport r;
    auto t = trim(lines[title]);
    r.benchmark = std::string(trim(t.substr(0, t.find(kTitle))));
    if (r.benchmark.empty())
        return make_error(Errc::kParse, "npb report: benchmark name missing before '" +
                                            std::string(kTitle) + "'");

    bool have_class = false, have_size = false, have_iter = false, have_time = false,
         have_mops = false, have_threads = false, have_procs = false, have_verif = false;
    std::string last_field;
    for (size_t i = title + 1; i < lines.size(); ++i) {
        auto line = trim(lines[i]);
        if (line.starts_with("Compile options")) break;
        auto eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        auto key = trim(line.substr(0, eq));
        auto value = trim(line.substr(eq + 1));
        if (value.empty()) continue;  // a line cut off after '=' counts as missing
        last_field = std::string(key);
        if (key == "Class") {
            r.cls = std::string(value);
            have_class = true;
        } else if (key == "Size") {
            r.size = strip_blanks(value);
            have_size = !r.size.empty();
        } else if (key == "Iterations") {
            auto v = to_long(key, value);
            if (!v) return v.error();
            r.iterations = *v;
            have_iter = true;
        } else if (key == "Time in seconds") {
            auto v = to_double(key, value);
            if (!v) return v.error();
            r.time_s = *v;
            have_time = true;
        } else if (key == "Mop/s total") {
            auto v = to_double(key, value);
            if (!v) return v.error();
            r.mops_total = *v;
            have_mops = true;
        } else if (key == "Mop/s/thread" || key == "Mop/s/process") {
            auto v = to_double(key, value);
            if (!v) return v.error();
            r.mops_per_worker = *v;
        } else if (key == "Total threads") {
            auto v = to_long(key, value);
            if (!v) return v.error();
            r.threads = static_cast<int>(*v);
            have_threads = true;
        } else if (key == "Avail threads") {
            auto v = to_long(key, value);
            if (!v) return v.error();
            r.avail_threads = static_cast<int>(*v);
        } else if (key == "Total processes") {
            auto v = to_long(key, value);
            if (!v) return v.error();
            r.processes = static_cast<int>(*v);
            have_procs = true;
        } else if (key == "Active processes") {
            auto v = to_long(key, value);
            if (!v) return v.error();
            r.active_processes = static_cast<int>(*v);
        } else if (key == "Operation type") {
            r.operation_type = std::string(value);
        } else if (key == "Verification") {
            if (value == "SUCCESSFUL") {
                r.verified = true;
            } else if (value == "UNSUCCESSFUL") {
                r.verified = false;
            } else {
                return make_error(Errc::kParse, "npb report: field 'Verification' = '" +
                                                    std::string(value) +
                                                    "' (expected SUCCESSFUL or UNSUCCESSFUL)");
            }
            have_verif = true;
        } else if (key == "Version") {
            r.version = std::string(value);
        } else if (key == "Compile date") {
            r.compile_date = std::string(value);
        }
    }

    std::vector<std::string> missing;
    if (!have_class) missing.emplace_back("Class");
    if (!have_size) missing.emplace_back("Size");
    if (!have_iter) missing.emplace_back("Iterations");
    if (!have_time) missing.emplace_back("Time in seconds");
    if (!have_threads && !have_procs) missing.emplace_back("Total threads/Total processes");
    if (!have_mops) missing.emplace_back("Mop/s total");
    if (!have_verif) missing.emplace_back("Verification");
    if (!missing.empty()) {
        std::string msg =
            "npb report for " + r.benchmark + ": missing field(s): " + join(missing, ", ");
        msg += last_field.empty() ? " (nothing after the title: truncated output?)"
                                  : " (last field read: '" + last_field + "'; truncated output?)";
        return make_error(Errc::kParse, msg);
    }
    if (!have_threads) r.threads = 1;
    return r;
}

}  // namespace vtasos::bench
