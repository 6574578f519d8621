#include "experiments.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "analysis.h"
#include "bench_config.h"
#include "charts.h"
#include "locate.h"
#include "machine.h"
#include "report_md.h"
#include "schema.h"
#include "util.h"

namespace vtasos::bench {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------ validation

namespace {
const std::vector<std::string> kOurKernels = {"ep", "is", "cg", "mg", "ft"};
const std::vector<std::string> kExternalKernels = {"ep", "is", "cg", "mg", "ft",
                                                   "bt", "sp", "lu", "ua"};
}  // namespace

Result<std::vector<std::string>> parse_kernels(std::string_view list, bool external) {
    const auto& allowed = external ? kExternalKernels : kOurKernels;
    auto items = split_list(to_lower(list));
    if (items.size() == 1 && items[0] == "all") return kOurKernels;
    if (items.empty())
        return make_error(Errc::kInvalidArgument, "--kernels: empty list (expected some of " +
                                                      join(allowed, ", ") + " or all)");
    std::vector<std::string> out;
    for (const auto& k : items) {
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
            return make_error(Errc::kInvalidArgument,
                              "--kernels: unknown kernel '" + k + "' (expected " +
                                  join(allowed, ", ") + " or all" +
                                  (external ? "" : "; other NPB programs need --npb-bin") + ")");
        if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
    }
    return out;
}

Result<std::string> parse_class(std::string_view cls, bool external) {
    auto c = to_upper(trim(cls));
    const std::string allowed = external ? "SWABCDEF" : "SWABC";
    if (c.size() != 1 || allowed.find(c[0]) == std::string::npos) {
        std::string list;
        for (char a : allowed) list += (list.empty() ? "" : ", ") + std::string(1, a);
        return make_error(Errc::kInvalidArgument, "--class: unknown class '" + std::string(cls) +
                                                      "' (expected " + list + ")");
    }
    return c;
}

Result<std::vector<std::string>> parse_classes(std::string_view list, bool external) {
    auto items = split_list(list);
    if (items.empty()) return make_error(Errc::kInvalidArgument, "--class: empty list");
    std::vector<std::string> out;
    for (const auto& item : items) {
        auto c = parse_class(item, external);
        if (!c) return c.error();
        if (std::find(out.begin(), out.end(), *c) == out.end()) out.push_back(*c);
    }
    return out;
}

Result<std::vector<std::string>> parse_names(std::string_view list,
                                             const std::vector<std::string>& allowed,
                                             std::string_view what) {
    auto items = split_list(to_lower(list));
    if (items.empty())
        return make_error(Errc::kInvalidArgument, std::string(what) + ": empty list (expected " +
                                                      join(allowed, ", ") + ")");
    std::vector<std::string> out;
    for (const auto& m : items) {
        if (std::find(allowed.begin(), allowed.end(), m) == allowed.end())
            return make_error(Errc::kInvalidArgument, std::string(what) + ": unknown value '" + m +
                                                          "' (expected " + join(allowed, ", ") +
                                                          ")");
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
    return out;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_pairs(std::string_view list,
                                                                     bool external) {
    std::vector<std::pair<std::string, std::string>> out;
    auto items = split_list(to_lower(list));
    if (items.empty())
        return make_error(Errc::kInvalidArgument,
                          "--pairs: empty list (expected e.g. cg+ft,mg+is)");
    for (const auto& item : items) {
        auto parts = split_list(item, '+');
        if (parts.size() != 2)
            return make_error(
                Errc::kInvalidArgument,
                "--pairs: '" + item + "' is not two kernels joined by '+' (e.g. cg+ft)");
        for (const auto& k : parts) {
            auto ok = parse_kernels(k, external);
            if (!ok)
                return make_error(Errc::kInvalidArgument,
                                  "--pairs: '" + item + "': " + ok.error().message());
            if (k == "all")
                return make_error(Errc::kInvalidArgument,
                                  "--pairs: 'all' cannot be part of a pair");
        }
        out.emplace_back(parts[0], parts[1]);
    }
    return out;
}

Status check_common(const CommonOptions& c) {
    if (c.reps < 1)
        return make_error(Errc::kInvalidArgument,
                          fmt::format("--reps: must be at least 1 (got {})", c.reps));
    if (c.warmup < 0)
        return make_error(Errc::kInvalidArgument,
                          fmt::format("--warmup: must be 0 or more (got {})", c.warmup));
    if (c.mpi_np < 0)
        return make_error(Errc::kInvalidArgument,
                          fmt::format("--mpi-np: must be positive (got {})", c.mpi_np));
    if (c.mpi_np > 0 && c.npb_bin.empty())
        return make_error(Errc::kInvalidArgument,
                          "--mpi-np needs --npb-bin (our kernels are OpenMP)");
    if (!c.npb_bin.empty()) {
        std::error_code ec;
        if (!fs::is_directory(c.npb_bin, ec))
            return make_error(Errc::kInvalidArgument,
                              "--npb-bin " + c.npb_bin + ": not a directory");
    }
    if (!c.kernel_dir.empty()) {
        std::error_code ec;
        if (!fs::is_directory(c.kernel_dir, ec))
            return make_error(Errc::kInvalidArgument,
                              "--kernel-dir " + c.kernel_dir + ": not a directory");
    }
    return {};
}

// ------------------------------------------------------------------ session

namespace {

enum class Parser { kNpb, kFwq };

std::string last_line(const std::string& text) {
    auto lines = split_list(text, '\n');
    return lines.empty() ? std::string() : lines.back();
}

std::string safe_name(std::string s) {
    for (auto& ch : s)
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_'))
            ch = '_';
    return s;
}

class Session {
public:
    Session(const CommonOptions& c, std::string experiment) : c_(c) {
        doc_.experiment = std::move(experiment);
        doc_.command_line = c.command_line;
    }

    // Creates the results directory (and logs/), checks it is writable, collects machine facts.
    // Errors: kIo naming the directory.
    Status open(json params, const fs::path& probe_binary) {
        started_wall_ = std::chrono::system_clock::now();
        t0_ = Clock::now();
        doc_.started_utc = utc_iso8601(started_wall_);
        out_ = c_.out_dir.empty() ? fs::path("results") / utc_compact(started_wall_) : c_.out_dir;
        std::error_code ec;
        fs::create_directories(out_ / "logs", ec);
        if (ec)
            return make_error(Errc::kIo, "cannot create results directory " + out_.string() + ": " +
                                             ec.message());
        auto probe = out_ / ".write-test";
        if (auto st = write_file(probe, "x"); !st)
            return make_error(Errc::kIo, "results directory " + out_.string() +
                                             " is not writable: " + st.error().message());
        fs::remove(probe, ec);
        out_ = fs::absolute(out_);
        launcher_ = std::make_unique<Launcher>(c_.tools, out_ / "logs");
        params["reps"] = c_.reps;
        params["warmup"] = c_.warmup;
        params["timeout_s"] = std::chrono::duration<double>(c_.timeout).count();
        params["seed"] = c_.seed;
        params["npb_bin"] = c_.npb_bin.empty() ? json(nullptr) : json(c_.npb_bin);
        params["mpi_np"] = c_.mpi_np > 0 ? json(c_.mpi_np) : json(nullptr);
        params["kernel_dir"] = kernel_dir().string();
        doc_.parameters = params;
        doc_.machine = collect_machine_facts({"/sys", probe_binary, true});
        doc_.tool = {{"name", "vtasos-bench"}, {"version", VTASOS_BENCH_VERSION}};
        fmt::print(stderr, "vtasos-bench {}: results in {}\n", doc_.experiment, out_.string());
        save();
        return {};
    }

    fs::path kernel_dir() const {
        return c_.kernel_dir.empty() ? default_kernel_dir() : fs::path(c_.kernel_dir);
    }
    Launcher& launcher() { return *launcher_; }
    const fs::path& out_dir() const { return out_; }
    const CommonOptions& options() const { return c_; }

    void add_variant(const VariantStatus& v) {
        doc_.variants.push_back(v);
        if (!v.available)
            fmt::print(stderr, "vtasos-bench: {} skipped: {}\n", v.name, v.reason);
        else if (!v.detail.empty())
            fmt::print(stderr, "vtasos-bench: {}: {}\n", v.name, v.detail);
        if (v.available && doc_.baseline.empty()) doc_.baseline = v.name;
    }
    std::vector<std::string> available() const {
        std::vector<std::string> out;
        for (const auto& v : doc_.variants)
            if (v.available) out.push_back(v.name);
        return out;
    }
    void note(const std::string& n) {
        std::lock_guard lk(mu_);
        doc_.notes.push_back(n);
        fmt::print(stderr, "vtasos-bench: note: {}\n", n);
    }
    void plan(size_t total) { planned_ = total; }
    void set_eta(std::function<double()> f) { eta_fn_ = std::move(f); }

    // Runs `p` in `mode` and classifies the outcome. Thread-safe.
    // `via`: another launcher (corun: one private daemon per scheduling policy).
    RunRecord execute(RunRecord r, Mode mode, const Program& p, Parser parser,
                      const std::vector<std::string>& extra = {},
                      const std::atomic<bool>* cancel = nullptr, const Launcher* via = nullptr) {
        {
            std::lock_guard lk(mu_);
            r.id = next_id_++;
        }
        r.mode = std::string(mode_name(mode));
        auto spec = (via ? via : launcher_.get())->wrap(mode, p, extra);
        spec.timeout = c_.timeout;
        spec.cancel = cancel;
        r.command = spec.argv;
        for (const auto& [k, v] : spec.set_env) r.env[k] = v;
        for (const auto& k : spec.unset_env) r.env[k] = "<unset>";
        r.start_s = std::chrono::duration<double>(Clock::now() - t0_).count();
        if (!p.binary.empty() && !is_executable(p.binary)) {
            r.status = RunStatus::kFailed;
            r.error = "benchmark binary " + p.binary + " does not exist or is not executable";
            return r;
        }
        auto o = run_process(spec);
        if (!o) {
            r.status = RunStatus::kFailed;
            r.error = o.error().message();
            return r;
        }
        r.exit_code = o->exit_code;
        r.signal = o->signal;
        r.wall_s = o->wall_s;
        auto stem = fmt::format("{:04d}-{}-{}-t{}-r{}", r.id, safe_name(r.benchmark),
                                safe_name(r.variant), r.threads, r.rep);
        r.stdout_log = "logs/" + stem + ".out";
        r.stderr_log = "logs/" + stem + ".err";
        (void)write_file(out_ / r.stdout_log, o->out);
        (void)write_file(out_ / r.stderr_log, o->err);
        const std::string tail = last_line(o->err).empty() ? last_line(o->out) : last_line(o->err);
        if (o->timed_out) {
            r.status = RunStatus::kTimeout;
            r.error =
                fmt::format("timed out after {:.1f} s (--timeout {:.0f} s); process group killed",
                            o->wall_s, std::chrono::duration<double>(c_.timeout).count());
            return r;
        }
        if (o->interrupted || o->cancelled) {
            r.status = RunStatus::kInterrupted;
            r.error = o->interrupted ? "interrupted by Ctrl-C"
                                     : "background run stopped once the measured runs finished";
            return r;
        }
        if (o->signal) {
            r.status = RunStatus::kCrashed;
            r.error = o->describe() + (tail.empty() ? "" : " — " + tail);
            return r;
        }
        Status parsed;
        if (parser == Parser::kNpb) {
            auto rep = parse_npb_report(o->out);
            if (rep)
                r.npb = *rep;
            else
                parsed = rep.error();
        } else {
            auto rep = parse_fwq_report(o->out);
            if (rep)
                r.fwq = *rep;
            else
                parsed = rep.error();
        }
        if (r.npb && !r.npb->verified) {
            r.status = RunStatus::kUnverified;
            r.error = fmt::format("Verification = UNSUCCESSFUL (exit {})", o->exit_code);
        } else if (o->exit_code != 0) {
            r.status = RunStatus::kFailed;
            r.error = "exit " + std::to_string(o->exit_code) + (tail.empty() ? "" : ": " + tail);
        } else if (!parsed) {
            r.status = RunStatus::kParseError;
            r.error = parsed.error().message();
        } else if (r.npb && !r.cls.empty() && r.npb->cls != r.cls) {
            r.status = RunStatus::kParseError;
            r.error = "report is for class " + r.npb->cls + ", expected " + r.cls;
        } else {
            r.status = RunStatus::kOk;
        }
        return r;
    }

    // Stores the run, prints its progress line and saves results.json. Thread-safe.
    void record(RunRecord r) {
        std::lock_guard lk(mu_);
        ++done_;
        double elapsed = std::chrono::duration<double>(Clock::now() - t0_).count();
        if (c_.progress) {
            std::string what =
                r.status == RunStatus::kOk ? "ok" : std::string(run_status_name(r.status));
            std::string perf;
            if (r.npb)
                perf = fmt::format(" {:.2f} s, {:.1f} Mop/s", r.npb->time_s, r.npb->mops_total);
            if (r.fwq) perf = fmt::format(" noise {:.2e}", r.fwq->noise_fraction);
            std::string eta;
            if (eta_fn_)
                eta = format_clock(eta_fn_());
            else if (planned_ > done_)
                eta = format_clock(elapsed / static_cast<double>(done_) *
                                   static_cast<double>(planned_ - done_));
            else
                eta = "0:00";
            std::string count = planned_ ? fmt::format("[{:>3}/{}]", done_, planned_)
                                         : fmt::format("[{:>3}]", done_);
            std::string rep;
            if (doc_.experiment == "pairs")
                rep = fmt::format("run {}{}", r.rep + 1,
                                  r.warmup ? " (warm-up)" : (r.counted ? "" : " (background)"));
            else if (r.warmup)
                rep = fmt::format("warm-up {}/{}", r.rep + 1, c_.warmup);
            else
                rep = fmt::format("rep {}/{}", r.rep - c_.warmup + 1, c_.reps);
            fmt::print(stderr,
                       "{} {}{}{} t={} {}{} {}: {}{} (wall {:.2f} s){} | elapsed {}, ETA {}\n",
                       count, r.benchmark, r.cls.empty() ? "" : ".", r.cls, r.threads, r.variant,
                       r.group.empty() ? "" : " [" + r.group + "]", rep, what, perf, r.wall_s,
                       r.status == RunStatus::kOk || r.error.empty() ? "" : " — " + r.error,
                       format_clock(elapsed), eta);
            std::fflush(stderr);
        }
        doc_.runs.push_back(std::move(r));
        save();
    }

    // Analysis, charts, report; prints the tables and paths. Returns the exit code.
    int finish() {
        std::lock_guard lk(mu_);
        doc_.finished_utc = utc_iso8601(std::chrono::system_clock::now());
        doc_.interrupted = interrupt_requested();
        doc_.tool["paths"] = launcher_->describe();
        auto a = analyze(doc_);
        doc_.summary = summary_json(a);
        auto charts = render_charts(a, out_, c_.gnuplot);
        for (const auto& w : charts.warnings) {
            doc_.notes.push_back(w);
            fmt::print(stderr, "vtasos-bench: warning: {}\n", w);
        }
        doc_.artifacts = {{"report", "report.md"},
                          {"csv", "results.csv"},
                          {"charts", charts.files},
                          {"logs", "logs"}};
        save();
        (void)write_file(out_ / "results.csv", runs_csv(doc_));
        auto st = write_file(out_ / "report.md", report_md(doc_, a, charts.files));
        if (!st) fmt::print(stderr, "vtasos-bench: {}\n", st.error().message());

        fmt::print("\n{}\n", results_tables_md(a));
        for (const auto& v : doc_.variants)
            if (!v.available) fmt::print("Skipped: {}: {}\n", v.name, v.reason);
        size_t failed = 0;
        for (const auto& r : doc_.runs)
            if (r.status != RunStatus::kOk && r.counted && r.status != RunStatus::kInterrupted)
                ++failed;
        if (failed) fmt::print("Failed runs: {} (see report)\n", failed);
        fmt::print("Report:  {}\n", (out_ / "report.md").string());
        fmt::print("Results: {}\n", (out_ / "results.json").string());
        for (const auto& f : charts.files) fmt::print("Chart:   {}\n", (out_ / f).string());
        if (charts.files.empty()) fmt::print("Charts:  none ({})\n", join(charts.warnings, "; "));
        std::fflush(stdout);

        if (doc_.interrupted) return kExitInterrupted;
        if (available().empty()) {
            fmt::print(stderr, "vtasos-bench: nothing ran: every requested variant was skipped\n");
            return kExitRunFailed;
        }
        return failed ? kExitRunFailed : kExitOk;
    }

    size_t runs_done() {
        std::lock_guard lk(mu_);
        return done_;
    }

private:
    // Written to a temporary file and renamed, so that a reader never sees half a document.
    void save() {
        auto tmp = out_ / "results.json.tmp";
        auto st = write_file(tmp, to_json(doc_).dump(2) + "\n");
        std::error_code ec;
        if (st) fs::rename(tmp, out_ / "results.json", ec);
        if (!st)
            fmt::print(stderr, "vtasos-bench: {}\n", st.error().message());
        else if (ec)
            fmt::print(stderr, "vtasos-bench: cannot write results.json: {}\n", ec.message());
    }

    const CommonOptions& c_;
    std::unique_ptr<Launcher> launcher_;
    ResultsDoc doc_;
    fs::path out_;
    std::chrono::system_clock::time_point started_wall_;
    Clock::time_point t0_;
    std::mutex mu_;
    int next_id_ = 0;
    size_t planned_ = 0, done_ = 0;
    std::function<double()> eta_fn_;
};

// The command that runs `kernel` at `cls` with `threads` (ranks under --mpi-np).
Program kernel_program(const Session& s, const std::string& kernel, const std::string& cls,
                       int threads) {
    const auto& c = s.options();
    Program p;
    if (!c.npb_bin.empty()) {
        auto bin = fs::path(c.npb_bin) / fmt::format("{}.{}.x", kernel, cls);
        p.binary = bin.string();
        if (c.mpi_np > 0) {
            auto mpirun = find_in_path("mpirun");
            p.argv = {mpirun ? mpirun->string() : "mpirun", "-np", std::to_string(c.mpi_np),
                      "--oversubscribe", bin.string()};
            p.env = {{"OMPI_ALLOW_RUN_AS_ROOT", "1"},
                     {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"},
                     {"OMP_NUM_THREADS", "1"}};
            p.cpus = c.mpi_np;
        } else {
            p.argv = {bin.string()};
            p.env = {{"OMP_NUM_THREADS", std::to_string(threads)}};
            p.cpus = threads;
        }
        return p;
    }
    auto bin = s.kernel_dir() / kernel;
    p.binary = bin.string();
    p.argv = {bin.string(), "--class", cls, "--threads", std::to_string(threads)};
    p.env = {{"OMP_NUM_THREADS", std::to_string(threads)}};
    p.cpus = threads;
    return p;
}

fs::path probe_binary(const CommonOptions& c, const std::string& kernel, const std::string& cls) {
    if (!c.npb_bin.empty()) return fs::path(c.npb_bin) / fmt::format("{}.{}.x", kernel, cls);
    return (c.kernel_dir.empty() ? default_kernel_dir() : fs::path(c.kernel_dir)) / kernel;
}

int bad_input(const Error& e) {
    fmt::print(stderr, "vtasos-bench: error: {}\n", e.message());
    return kExitBadInput;
}

// scaling and overhead share the loop; they differ in their variants.
struct VariantRun {
    std::string name;
    Mode mode;
    std::vector<std::pair<std::string, std::string>> env;
};

int run_cells(Session& s, const std::vector<std::string>& kernels,
              const std::vector<std::string>& classes, const std::vector<int>& threads,
              const std::vector<VariantRun>& variants) {
    const auto& c = s.options();
    const int rounds = c.warmup + c.reps;
    s.plan(static_cast<size_t>(rounds) * kernels.size() * classes.size() * threads.size() *
           variants.size());
    for (int round = 0; round < rounds && !interrupt_requested(); ++round)
        for (const auto& k : kernels)
            for (const auto& cls : classes)
                for (int t : threads)
                    for (const auto& v : variants) {  // innermost: modes alternate (ABAB)
                        if (interrupt_requested()) break;
                        RunRecord r;
                        r.benchmark = k;
                        r.cls = cls;
                        r.threads = c.mpi_np > 0 ? c.mpi_np : t;
                        r.variant = v.name;
                        r.rep = round;
                        r.warmup = round < c.warmup;
                        Program p = kernel_program(s, k, cls, t);
                        for (const auto& e : v.env) p.env.push_back(e);
                        s.record(s.execute(r, v.mode, p, Parser::kNpb));
                    }
    return s.finish();
}

json scaling_params(const ScalingOptions& o, const std::vector<std::string>& variants) {
    return {{"kernels", o.kernels},
            {"classes", o.classes},
            {"threads", o.threads},
            {"variants", variants}};
}

}  // namespace

// ------------------------------------------------------------------ experiments

int run_scaling(const CommonOptions& c, const ScalingOptions& o) {
    if (auto st = check_common(c); !st) return bad_input(st.error());
    Session s(c, "scaling");
    auto threads = c.mpi_np > 0 ? std::vector<int>{c.mpi_np} : o.threads;
    ScalingOptions params = o;
    params.threads = threads;
    if (auto st = s.open(scaling_params(params, o.modes),
                         probe_binary(c, o.kernels.front(), o.classes.front()));
        !st)
        return bad_input(st.error());
    std::vector<VariantRun> variants;
    for (const auto& name : o.modes) {
        auto mode = *mode_from_name(name);
        auto st = s.launcher().prepare(mode);
        s.add_variant(st);
        if (st.available) variants.push_back({name, mode, {}});
    }
    return run_cells(s, o.kernels, o.classes, threads, variants);
}

int run_overhead(const CommonOptions& c, const ScalingOptions& o) {
    if (auto st = check_common(c); !st) return bad_input(st.error());
    Session s(c, "overhead");
    auto threads = c.mpi_np > 0 ? std::vector<int>{c.mpi_np} : o.threads;
    ScalingOptions params = o;
    params.threads = threads;
    if (auto st = s.open(scaling_params(params, {"tool-off", "tool-on"}),
                         probe_binary(c, o.kernels.front(), o.classes.front()));
        !st)
        return bad_input(st.error());
    std::vector<VariantRun> variants;
    s.add_variant({"tool-off", true, "", "native, OMP_TOOL_LIBRARIES unset"});
    variants.push_back({"tool-off", Mode::kNative, {}});
    auto lib = s.launcher().ompt_lib();
    if (lib) {
        s.add_variant({"tool-on", true, "", "native, OMP_TOOL_LIBRARIES=" + lib->string()});
        variants.push_back({"tool-on", Mode::kNative, {{"OMP_TOOL_LIBRARIES", lib->string()}}});
    } else {
        s.add_variant({"tool-on", false,
                       "OMPT tool library not available: " + s.launcher().ompt_lib_reason(), ""});
    }
    return run_cells(s, o.kernels, o.classes, threads, variants);
}

int run_pairs(const CommonOptions& c, const PairsOptions& o) {
    if (auto st = check_common(c); !st) return bad_input(st.error());
    Session s(c, "pairs");
    const int ncpu = online_cpus();
    const int stock_threads = o.threads > 0 ? o.threads : ncpu;
    const int half = std::max(1, ncpu / 2);
    json pairs = json::array();
    for (const auto& [a, b] : o.pairs) pairs.push_back(a + "+" + b);
    const double budget_s = std::chrono::duration<double>(o.budget).count();
    json params = {{"pairs", pairs},
                   {"class", o.cls},
                   {"budget", fmt::format("{:g} s", budget_s)},
                   {"budget_s", budget_s},
                   {"stock_threads", stock_threads},
                   {"vtasos_cpus_per_tenant", half},
                   {"variants", o.configs}};
    if (auto st = s.open(params, probe_binary(c, o.pairs.front().first, o.cls)); !st)
        return bad_input(st.error());
    struct Config {
        std::string name;
        Mode mode;
        int threads;
    };
    std::vector<Config> configs;
    for (const auto& name : o.configs) {
        if (name == "stock") {
            s.add_variant({"stock", true, "",
                           fmt::format("both native, unpinned, {} threads each", stock_threads)});
            configs.push_back({"stock", Mode::kNative, stock_threads});
        } else if (name != "vtasos") {
            // Guest configs (guest_mode.h): kvm/kvm-tickless as stock (all CPUs each, unpinned),
            // kvm-vtasos as vtasos (a tenant of `half` CPUs each, pinned by vtasosd).
            const Mode gm = *mode_from_name(name);
            const int t = gm == Mode::kKvmVtasos ? half : stock_threads;
            auto st = s.launcher().prepare(gm);
            if (st.available)
                st.detail =
                    fmt::format("each in a guest with {} vCPU(s) and {} thread(s); ", t, t) +
                    st.detail;
            s.add_variant(st);
            if (st.available) configs.push_back({name, gm, t});
        } else {
            auto st = s.launcher().prepare(Mode::kVtasos);
            st.name = "vtasos";
            if (st.available)
                st.detail = fmt::format(
                                "space sharing: each a tenant with {} CPU(s) and {} "
                                "thread(s); ",
                                half, half) +
                            st.detail;
            s.add_variant(st);
            if (st.available) configs.push_back({"vtasos", Mode::kVtasos, half});
        }
    }
    const size_t segments = o.pairs.size() * configs.size();
    size_t segment = 0;
    std::atomic<int64_t> deadline_ns{0};
    s.set_eta([&] {
        double left =
            std::chrono::duration<double>(
                Clock::time_point(std::chrono::nanoseconds(deadline_ns.load())) - Clock::now())
                .count();
        return std::max(0.0, left) + budget_s * static_cast<double>(segments - segment - 1);
    });
    for (const auto& [a, b] : o.pairs) {
        for (const auto& cfg : configs) {
            if (interrupt_requested()) break;
            const auto deadline = Clock::now() + o.budget;
            deadline_ns =
                std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch())
                    .count();
            fmt::print(stderr, "vtasos-bench: pair {}+{} ({}), budget {:g} s\n", a, b, cfg.name,
                       budget_s);
            std::mutex mu;
            bool in_budget_run[2] = {false, false};
            std::atomic<bool> cancel_background{false};
            auto slot_loop = [&, a = a, b = b](int slot) {
                const std::string& bench = slot == 0 ? a : b;
                int index = 0, budget_runs = 0;
                while (!interrupt_requested()) {
                    bool measured;
                    {
                        std::lock_guard lk(mu);
                        measured = Clock::now() < deadline;
                        if (!measured && !in_budget_run[1 - slot]) break;
                        in_budget_run[slot] = measured;
                    }
                    RunRecord r;
                    r.benchmark = bench;
                    r.cls = o.cls;
                    r.threads = c.mpi_np > 0 ? c.mpi_np : cfg.threads;
                    r.variant = cfg.name;
                    r.group = a + "+" + b;
                    r.slot = slot;
                    r.rep = index++;
                    r.warmup = measured && budget_runs < c.warmup;
                    r.counted = measured;
                    if (measured) ++budget_runs;
                    auto rec = s.execute(r, cfg.mode, kernel_program(s, bench, o.cls, cfg.threads),
                                         Parser::kNpb, {}, measured ? nullptr : &cancel_background);
                    {
                        std::lock_guard lk(mu);
                        in_budget_run[slot] = false;
                        if (Clock::now() >= deadline && !in_budget_run[1 - slot])
                            cancel_background = true;
                    }
                    s.record(std::move(rec));
                }
                std::lock_guard lk(mu);
                cancel_background = true;  // the partner's background run has no purpose now
            };
            // The partner's background run is cancelled only when neither slot is measuring.
            std::thread t0([&] { slot_loop(0); });
            std::thread t1([&] { slot_loop(1); });
            t0.join();
            t1.join();
            ++segment;
        }
    }
    return s.finish();
}

// ------------------------------------------------------------------ corun
//
// Families (issue 7): how each runtime waits decides what sharing costs.
//   mpi   mpi-barrier (nas-harness/mpi): Open MPI busy-polls; vtasos runs it with
//         `mpirun --mca hook vtasos` (the hook registers the job, libvtasos-pmpi reports its
//         wait rate, so `auto` decides from measured MPI waits).
//   gomp  <kernel>-gomp (GCC/libgomp, OMP_WAIT_POLICY=active): no OMPT, so vtasos learns from
//         the shipped profile (`vtasosctl run --profile npb-<kernel>`), and the harness asks
//         the daemon for advice before starting (both apps registered as reservations) and
//         exports the suggested thread count as OMP_NUM_THREADS.
//   llvm  our clang kernels (LLVM libomp, default waiting) with the OMPT tool, which reports
//         its sync profile and applies advice between parallel regions.
namespace {

enum class Family { kLlvm, kGomp, kMpi };

Family family_of(const std::string& app) {
    if (app == "mpi-barrier") return Family::kMpi;
    if (app.size() > 5 && app.ends_with("-gomp")) return Family::kGomp;
    return Family::kLlvm;
}

std::string_view family_name(Family f) {
    switch (f) {
        case Family::kMpi:
            return "mpi";
        case Family::kGomp:
            return "gomp";
        case Family::kLlvm:
            return "llvm";
    }
    return "llvm";
}

std::string base_kernel(const std::string& app) {
    return family_of(app) == Family::kGomp ? app.substr(0, app.size() - 5) : app;
}

// Open MPI's own component directory, so our hook is found next to the system's components.
std::string ompi_component_path() {
    auto r = run_process(
        {{"ompi_info", "--path", "pkglibdir", "--parsable"}, {}, {}, std::chrono::seconds(20)});
    std::string sys;
    if (r && r->succeeded()) {
        auto line = std::string(trim(r->out));
        auto colon = line.rfind(':');
        if (colon != std::string::npos) sys = line.substr(colon + 1);
    }
    std::string ours = (build_root() / "lib" / "openmpi").string();
    return sys.empty() ? ours : ours + ":" + sys;
}

// Asks the policy's daemon what each app should use before any starts: registers one
// reservation per app (a sleeping helper as its process), reads advice, releases them.
// Returns suggested threads per app (0 where the daemon gave none).
std::vector<int> pre_advice(const std::string& vtasosctl, const std::string& socket,
                            const std::vector<std::string>& apps, int threads, std::string& why) {
    std::vector<int> out(apps.size(), 0);
    std::vector<pid_t> helpers;
    std::vector<std::string> tenants;
    for (size_t i = 0; i < apps.size(); ++i) {
        pid_t pid = ::fork();
        if (pid == 0) {
            ::execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        helpers.push_back(pid);
        std::string tenant = fmt::format("corun-advice-{}-{}", ::getpid(), i);
        auto r = run_process(
            {{vtasosctl, "--socket", socket, "register", "--detached", "--tenant", tenant, "--cpus",
              std::to_string(threads), "--profile", "npb-" + apps[i], "--pid", std::to_string(pid)},
             {},
             {},
             std::chrono::seconds(20)});
        if (r && r->succeeded())
            tenants.push_back(tenant);
        else
            why += fmt::format("register {}: {}; ", apps[i], r ? trim(r->err) : "no vtasosctl");
    }
    for (size_t i = 0; i < tenants.size() && tenants.size() == apps.size(); ++i) {
        auto r = run_process({{vtasosctl, "--socket", socket, "advice", tenants[i], "--json"},
                              {},
                              {},
                              std::chrono::seconds(20)});
        if (!r || !r->succeeded()) continue;
        auto j = json::parse(r->out, nullptr, false);
        const json* a = j.is_object() && j.contains("advice") ? &j["advice"] : &j;
        if (a->is_object() && a->contains("suggested_threads") &&
            (*a)["suggested_threads"].is_number_integer())
            out[i] = (*a)["suggested_threads"].get<int>();
        if (a->is_object() && a->contains("reason") && (*a)["reason"].is_string())
            why += apps[i] + ": " + (*a)["reason"].get<std::string>() + "; ";
    }
    for (const auto& t : tenants)
        (void)run_process(
            {{vtasosctl, "--socket", socket, "release", t}, {}, {}, std::chrono::seconds(20)});
    for (pid_t pid : helpers) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    return out;
}

}  // namespace

Result<std::vector<std::string>> parse_corun_apps(std::string_view list, bool external) {
    auto items = split_list(to_lower(list));
    if (items.size() < 2)
        return make_error(Errc::kInvalidArgument,
                          "--apps: a co-run needs at least two apps (e.g. cg,mg, ep,ep, "
                          "cg-gomp,cg-gomp or mpi-barrier,mpi-barrier)");
    const auto& allowed = external ? kExternalKernels : kOurKernels;
    for (const auto& a : items) {
        bool ok =
            a == "mpi-barrier" || std::find(allowed.begin(), allowed.end(), a) != allowed.end();
        if (!ok && !external && family_of(a) == Family::kGomp) {
            auto k = base_kernel(a);
            ok = std::find(kOurKernels.begin(), kOurKernels.end(), k) != kOurKernels.end();
        }
        if (!ok)
            return make_error(Errc::kInvalidArgument,
                              "--apps: unknown app '" + a + "' (expected " + join(allowed, ", ") +
                                  ", their GCC builds <kernel>-gomp, or mpi-barrier)");
    }
    return items;  // duplicates allowed: ep,ep is a co-run of two copies
}

int run_corun(const CommonOptions& c, const CorunOptions& o) {
    if (auto st = check_common(c); !st) return bad_input(st.error());
    if (o.slice_ms < 10 || o.slice_ms > 100)
        return bad_input(
            make_error(Errc::kInvalidArgument,
                       fmt::format("--slice-ms: {} is out of range (10..100 ms)", o.slice_ms)));
    if (!o.app_args.empty())
        for (const auto& a : o.apps)
            if (family_of(a) != Family::kMpi)
                return bad_input(make_error(
                    Errc::kInvalidArgument,
                    fmt::format("--app-args: only for mpi-barrier (its --iters/--work); '{}' "
                                "takes its size from --class",
                                a)));
    Session s(c, "corun");
    const int threads = o.threads > 0 ? o.threads : online_cpus();
    const std::string group = join(o.apps, "+");
    std::vector<std::string> families;
    bool any_mpi = false;
    for (const auto& a : o.apps) {
        families.emplace_back(family_name(family_of(a)));
        any_mpi = any_mpi || family_of(a) == Family::kMpi;
    }
    json params = {{"apps", o.apps},         {"families", families},
                   {"class", o.cls},         {"threads", threads},
                   {"slice_ms", o.slice_ms}, {"app_args", o.app_args},
                   {"variants", o.policies}, {"online_cpus", online_cpus()}};
    if (auto st = s.open(params, probe_binary(c, o.apps.front(), o.cls)); !st)
        return bad_input(st.error());
    struct Policy {
        std::string name;
        std::string wait;                    // OMP_WAIT_POLICY forced by the policy ("": family's)
        std::unique_ptr<Launcher> launcher;  // vtasos: a private daemon with --sched-policy
        Mode guest = Mode::kNative;          // kvm*: each app in its own guest
    };
    std::vector<Policy> policies;
    for (const auto& name : o.policies) {
        if (auto gm = mode_from_name(name);
            gm && (*gm == Mode::kKvm || *gm == Mode::kKvmTickless || *gm == Mode::kKvmVtasos)) {
            // Guests (issue 8): kvm/kvm-tickless are stock guests sharing the CPUs under the
            // host's CFS; kvm-vtasos makes each guest a VM tenant of a private vtasosd with
            // `--sched-policy auto`, so the gang scheduler freezes and thaws whole VMs.
            VariantStatus v;
            std::unique_ptr<Launcher> l;
            if (any_mpi) {
                v.name = name;
                v.reason = "MPI apps are not run inside guests (mpirun launches the ranks)";
                s.add_variant(v);
                continue;
            }
            if (*gm == Mode::kKvmVtasos) {
                ToolPaths tp = c.tools;
                tp.vtasosd_args = {"--sched-policy", "auto", "--slice-ms",
                                   std::to_string(o.slice_ms)};
                auto logs = s.out_dir() / "logs" / ("vtasosd-" + name);
                std::error_code ec;
                fs::create_directories(logs, ec);
                l = std::make_unique<Launcher>(tp, logs);
                v = l->prepare(*gm);
            } else {
                v = s.launcher().prepare(*gm);
            }
            v.name = name;
            if (v.available)
                v.detail = fmt::format("{} apps, each in a guest with {} vCPUs; ", o.apps.size(),
                                       threads) +
                           v.detail;
            s.add_variant(v);
            if (v.available) policies.push_back({name, "", std::move(l), *gm});
            continue;
        }
        if (name == "solo") {
            VariantStatus v;
            v.name = name;
            v.available = true;
            v.detail = fmt::format(
                "native, each app alone, one after another ({} threads/ranks "
                "on {} CPUs); its makespan is the sum of the solo times",
                threads, online_cpus());
            s.add_variant(v);
            policies.push_back({name, "", nullptr});
            continue;
        }
        if (name == "cfs" || name == "cfs-active" || name == "cfs-passive") {
            std::string wait = name == "cfs-active"    ? "active"
                               : name == "cfs-passive" ? "passive"
                                                       : "";
            VariantStatus v;
            v.name = name;
            v.available = true;
            v.detail = fmt::format(
                "native, Linux CFS, OMP_WAIT_POLICY={}, {} apps x {} "
                "threads/ranks on {} CPUs",
                wait.empty() ? "family default" : wait, o.apps.size(), threads, online_cpus());
            s.add_variant(v);
            policies.push_back({name, wait, nullptr});
            continue;
        }
        if (name == "feedback" && any_mpi) {
            VariantStatus v;
            v.name = name;
            v.reason =
                "feedback shrinks thread counts; MPI ranks cannot shrink (issue 7: feedback is "
                "for OpenMP apps)";
            s.add_variant(v);
            continue;
        }
        ToolPaths tp = c.tools;
        tp.vtasosd_args = {"--sched-policy", name, "--slice-ms", std::to_string(o.slice_ms)};
        auto logs = s.out_dir() / "logs" / ("vtasosd-" + name);
        std::error_code ec;
        fs::create_directories(logs, ec);
        auto l = std::make_unique<Launcher>(tp, logs);
        auto st = l->prepare(Mode::kVtasos);
        st.name = name;
        if (st.available && any_mpi &&
            !fs::exists(build_root() / "lib" / "openmpi" / "mca_hook_vtasos.so")) {
            st.available = false;
            st.reason = "the Open MPI hook mca_hook_vtasos.so is not built (pmix-plugin/)";
        }
        if (st.available)
            st.detail = fmt::format("vtasosd --sched-policy {} --slice-ms {}; ", name, o.slice_ms) +
                        st.detail;
        else
            st.reason = "needs the vtasos daemon: " + st.reason;
        s.add_variant(st);
        if (st.available) policies.push_back({name, "", std::move(l)});
    }
    const std::string component_path = any_mpi ? ompi_component_path() : std::string();
    const auto pmpi = build_root() / "lib" / "libvtasos-pmpi.so";
    const auto mpirun = find_in_path("mpirun");
    const int rounds = c.warmup + c.reps;
    s.plan(static_cast<size_t>(rounds) * policies.size() * o.apps.size());
    // Rounds outermost: the policies are interleaved, so slow drift hits them alike.
    for (int round = 0; round < rounds && !interrupt_requested(); ++round)
        for (const auto& pol : policies) {
            if (interrupt_requested()) break;
            const Launcher* l = pol.launcher.get();
            std::vector<int> advised(o.apps.size(), 0);
            bool any_gomp = false;
            for (const auto& a : o.apps) any_gomp = any_gomp || family_of(a) == Family::kGomp;
            if (l && any_gomp && pol.guest == Mode::kNative) {
                std::string why;
                advised = pre_advice(l->wrap(Mode::kVtasos, Program{}).argv.front(), l->socket(),
                                     o.apps, threads, why);
                if (round == 0) s.note(fmt::format("{}: advice before start: {}", pol.name, why));
            }
            auto run_app = [&](size_t i) {
                const std::string& app = o.apps[i];
                const Family fam = family_of(app);
                RunRecord r;
                r.benchmark = app;
                r.cls = o.cls;
                r.threads = threads;
                r.variant = pol.name;
                r.group = group;
                r.slot = static_cast<int>(i);
                r.rep = round;
                r.warmup = round < c.warmup;
                Program p;
                Mode mode = l ? Mode::kVtasos : Mode::kNative;
                std::vector<std::string> extra;
                if (fam == Family::kMpi) {
                    auto bin = s.kernel_dir() / app;
                    p.binary = bin.string();
                    p.argv = {mpirun ? mpirun->string() : "mpirun",
                              "-np",
                              std::to_string(threads),
                              "--oversubscribe",
                              "--bind-to",
                              "none"};
                    p.env = {{"OMPI_ALLOW_RUN_AS_ROOT", "1"},
                             {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"},
                             {"OMP_NUM_THREADS", "1"}};
                    if (l) {
                        // The hook registers the job itself: no vtasosctl run around mpirun.
                        mode = Mode::kNative;
                        for (const std::string& a : std::vector<std::string>{
                                 "--mca", "hook", "vtasos", "-x", "LD_PRELOAD=" + pmpi.string(),
                                 "-x", "VTASOS_SOCKET=" + l->socket(), "-x",
                                 "VTASOS_PMPI_INTERVAL=0.5"})
                            p.argv.push_back(a);
                        p.env.emplace_back("OMPI_MCA_mca_base_component_path", component_path);
                        p.env.emplace_back("VTASOS_SOCKET", l->socket());
                    }
                    p.argv.push_back(bin.string());
                    p.argv.push_back("--class");
                    p.argv.push_back(o.cls);
                    for (const auto& a : o.app_args) p.argv.push_back(a);
                    p.cpus = threads;
                } else {
                    int t = advised[i] > 0 ? std::min(advised[i], threads) : threads;
                    p = kernel_program(s, app, o.cls, t);
                    p.cpus = threads;  // the tenant's size; the thread count follows advice
                    std::string wait = pol.wait;
                    if (wait.empty() && fam == Family::kGomp) wait = "active";
                    if (!wait.empty()) p.env.emplace_back("OMP_WAIT_POLICY", wait);
                    if (fam == Family::kGomp && l) {
                        // Shipped profile npb-<kernel>-gomp (rates, coexist pu): no
                        // --coexist next to --profile.
                        extra = {"--profile", "npb-" + app};
                        p.env.emplace_back("VTASOS_CORUN_ADVISED_THREADS", std::to_string(t));
                    }
                }
                // Oversubscribed by design: tenants time-share PUs (gomp: the profile says so).
                p.coexist = fam == Family::kGomp && l ? "" : "pu";
                if (pol.guest != Mode::kNative) {
                    mode = pol.guest;
                    extra.clear();
                    p.coexist = "pu";
                }
                s.record(s.execute(r, mode, p, Parser::kNpb, extra, nullptr, l));
            };
            if (pol.name == "solo") {
                // The reference the targets use: each app alone, one after another.
                for (size_t i = 0; i < o.apps.size(); ++i) run_app(i);
                continue;
            }
            std::vector<std::thread> ts;
            for (size_t i = 0; i < o.apps.size(); ++i) ts.emplace_back(run_app, i);
            for (auto& t : ts) t.join();
        }
    return s.finish();
}

int run_noise(const CommonOptions& c, const NoiseOptions& o) {
    if (auto st = check_common(c); !st) return bad_input(st.error());
    if (o.samples < 10)
        return bad_input(make_error(Errc::kInvalidArgument, "--samples: must be at least 10"));
    if (!(o.quantum_us > 0))
        return bad_input(make_error(Errc::kInvalidArgument, "--quantum-us: must be positive"));
    Session s(c, "noise");
    const int threads = o.threads > 0 ? o.threads : online_cpus();
    json params = {{"variants", o.modes},
                   {"threads", threads},
                   {"samples", o.samples},
                   {"quantum_us", o.quantum_us}};
    auto fwq = (c.kernel_dir.empty() ? default_kernel_dir() : fs::path(c.kernel_dir)) / "fwq";
    if (auto st = s.open(params, fwq); !st) return bad_input(st.error());
    std::vector<std::pair<std::string, Mode>> modes;
    for (const auto& name : o.modes) {
        auto mode = *mode_from_name(name);
        auto st = s.launcher().prepare(mode);
        s.add_variant(st);
        if (st.available) modes.emplace_back(name, mode);
    }
    const int rounds = c.warmup + c.reps;
    s.plan(static_cast<size_t>(rounds) * modes.size());
    for (int round = 0; round < rounds && !interrupt_requested(); ++round)
        for (const auto& [name, mode] : modes) {
            if (interrupt_requested()) break;
            RunRecord r;
            r.benchmark = "fwq";
            r.threads = threads;
            r.variant = name;
            r.rep = round;
            r.warmup = round < c.warmup;
            Program p;
            p.binary = fwq.string();
            p.argv = {fwq.string(),
                      "--samples",
                      std::to_string(o.samples),
                      "--quantum-us",
                      fmt::format("{:g}", o.quantum_us),
                      "--threads",
                      std::to_string(threads)};
            p.cpus = threads;
            s.record(s.execute(r, mode, p, Parser::kFwq));
        }
    return s.finish();
}

// ------------------------------------------------------------------ report / validate

namespace {
Result<json> load_results(const fs::path& path) {
    std::error_code ec;
    auto file = fs::is_directory(path, ec) ? path / "results.json" : path;
    auto text = read_file(file);
    if (!text) return text.error();
    try {
        return json::parse(*text);
    } catch (const std::exception& e) {
        return make_error(Errc::kParse, file.string() + ": not valid JSON: " + e.what());
    }
}
}  // namespace

int render_report_dir(const fs::path& dir, const std::string& gnuplot) {
    auto j = load_results(dir);
    if (!j) return bad_input(j.error());
    for (const auto& v : validate_json(*j, results_schema()))
        fmt::print(stderr, "vtasos-bench: warning: results.json does not match the schema: {}\n",
                   v);
    auto doc = doc_from_json(*j);
    if (!doc) return bad_input(doc.error());
    auto a = analyze(*doc);
    // Chart warnings of the original run no longer apply: this rendering makes its own.
    std::erase_if(doc->notes, [](const std::string& n) {
        return n.starts_with("charts skipped") || n.starts_with("chart ");
    });
    auto charts = render_charts(a, dir, gnuplot);
    for (const auto& w : charts.warnings) {
        doc->notes.push_back(w);
        fmt::print(stderr, "vtasos-bench: warning: {}\n", w);
    }
    if (auto st = write_file(dir / "report.md", report_md(*doc, a, charts.files)); !st)
        return bad_input(st.error());
    (void)write_file(dir / "results.csv", runs_csv(*doc));
    fmt::print("\n{}\n", results_tables_md(a));
    for (const auto& v : doc->variants)
        if (!v.available) fmt::print("Skipped: {}: {}\n", v.name, v.reason);
    fmt::print("Report:  {}\n", fs::absolute(dir / "report.md").string());
    for (const auto& f : charts.files) fmt::print("Chart:   {}\n", fs::absolute(dir / f).string());
    return kExitOk;
}

int validate_results(const fs::path& path) {
    auto j = load_results(path);
    if (!j) return bad_input(j.error());
    auto errors = validate_json(*j, results_schema());
    for (const auto& e : errors) fmt::print(stderr, "{}\n", e);
    if (!errors.empty()) {
        fmt::print(stderr, "vtasos-bench: {}: {} schema violation(s)\n", path.string(),
                   errors.size());
        return kExitRunFailed;
    }
    auto doc = doc_from_json(*j);
    if (!doc) {
        fmt::print(stderr, "vtasos-bench: {}\n", doc.error().message());
        return kExitRunFailed;
    }
    fmt::print("{}: valid (schema_version {}, {} runs)\n", path.string(), kSchemaVersion,
               doc->runs.size());
    return kExitOk;
}

}  // namespace vtasos::bench
