// vtasos-bench: runs the NAS kernels natively, under vtasos and (later) in guests; writes
// results.json, results.csv, report.md and charts. See nas-harness/README.md.
#include <fmt/format.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>
#include <string>

#include "experiments.h"
#include "machine.h"
#include "util.h"

using namespace vtasos::bench;

namespace {

void on_signal(int) { request_interrupt(); }

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills at once
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

struct Raw {
    std::string out, timeout = "10m", budget = "5m";
    std::string kernels, cls, threads, modes, pairs, apps, policies, configs;
    int reps = 3, warmup = 1;
    bool no_progress = false;
    long samples = 20000;
    double quantum_us = 100;
    std::string dir;
};

void add_common(CLI::App* sub, CommonOptions& c, Raw& raw) {
    sub->add_option("--out", raw.out, "Results directory (default: results/<UTC timestamp>)");
    sub->add_option("--reps", c.reps, "Measured repetitions per cell")->capture_default_str();
    sub->add_option("--warmup", c.warmup, "Warm-up runs per cell, discarded")
        ->capture_default_str();
    sub->add_option("--timeout", raw.timeout, "Time limit per run (e.g. 90s, 10m)")
        ->capture_default_str();
    sub->add_option("--seed", c.seed, "Bootstrap seed")->capture_default_str();
    sub->add_option("--kernel-dir", c.kernel_dir,
                    "Directory of our kernels (ep is cg mg ft) and fwq (default: next to "
                    "vtasos-bench)");
    sub->add_option("--npb-bin", c.npb_bin,
                    "Run a user's NPB binaries (<kernel>.<CLASS>.x) from DIR");
    sub->add_option("--mpi-np", c.mpi_np, "With --npb-bin: MPI binaries, run with mpirun -np N");
    sub->add_option("--vtasosd", c.tools.vtasosd,
                    "Path of vtasosd (default: build tree, then PATH)");
    sub->add_option("--vtasosctl", c.tools.vtasosctl,
                    "Path of vtasosctl (default: build tree, then PATH)");
    sub->add_option("--ompt-lib", c.tools.ompt_lib,
                    "Path of libvtasos-ompt.so (default: build tree)");
    sub->add_option("--vtasos-image", c.tools.vtasos_image, "Path of vtasos-image (guest modes)");
    sub->add_option("--gnuplot", c.gnuplot, "gnuplot program")->capture_default_str();
    sub->add_flag("--no-progress", raw.no_progress, "No per-run progress lines");
}

std::string default_threads() {
    int n = online_cpus();
    return n > 1 ? fmt::format("1,{}", n) : "1";
}

int fail(const Error& e) {
    fmt::print(stderr, "vtasos-bench: error: {}\n", e.message());
    return kExitBadInput;
}

}  // namespace

int main(int argc, char** argv) {
    CommonOptions c;
    for (int i = 0; i < argc; ++i) c.command_line.emplace_back(argv[i]);
    Raw raw;
    CLI::App app{
        "vtasos-bench: NAS kernels natively, under vtasos and in guests; statistics, reports, "
        "charts.\nExit status: 0 all runs ok, 1 some run failed or nothing could run, 2 bad "
        "arguments, 130 interrupted."};
    app.require_subcommand(1);

    auto* scaling = app.add_subcommand("scaling", "Each kernel x thread count x mode (Figure 1)");
    raw.kernels = "ep,is,cg,mg,ft";
    raw.cls = "A";
    raw.threads = default_threads();
    raw.modes = "native,vtasos";
    scaling->add_option("--kernels", raw.kernels, "Kernels: ep,is,cg,mg,ft or all")
        ->capture_default_str();
    scaling->add_option("--class", raw.cls, "NPB class(es): S W A B C, e.g. S,W")
        ->capture_default_str();
    scaling->add_option("--threads", raw.threads, "Thread counts, e.g. 1,2")->capture_default_str();
    scaling->add_option("--modes", raw.modes, "Modes: " + join(all_mode_names(), ","))
        ->capture_default_str();
    add_common(scaling, c, raw);

    auto* pairs =
        app.add_subcommand("pairs", "Two programs together until a budget ends (Figure 3)");
    std::string pairs_cls = "W", pairs_threads = "0";
    raw.pairs = "cg+ft,mg+is";
    raw.configs = "stock,vtasos";
    pairs->add_option("--pairs", raw.pairs, "Pairs, e.g. cg+ft,mg+is")->capture_default_str();
    pairs->add_option("--class", pairs_cls, "NPB class")->capture_default_str();
    pairs->add_option("--budget", raw.budget, "Wall-clock budget per pair and config (e.g. 5m)")
        ->capture_default_str();
    pairs->add_option("--threads", pairs_threads, "Threads per program under stock (0: all CPUs)")
        ->capture_default_str();
    pairs
        ->add_option("--configs", raw.configs,
                     "Configurations: stock,vtasos,kvm,kvm-tickless,kvm-vtasos")
        ->capture_default_str();
    add_common(pairs, c, raw);

    auto* corun = app.add_subcommand("corun", "Oversubscribed co-run per scheduling policy");
    std::string corun_cls = "W", corun_threads = "0";
    raw.apps = "cg,mg";
    raw.policies = "cfs,gang,feedback,auto";
    int corun_slice_ms = 20;  // vtasosd's default slice
    corun
        ->add_option("--apps", raw.apps,
                     "Apps run together: kernels, <kernel>-gomp (GCC/libgomp), mpi-barrier")
        ->capture_default_str();
    corun->add_option("--slice-ms", corun_slice_ms, "vtasosd --slice-ms for vtasos policies")
        ->capture_default_str();
    corun->add_option("--class", corun_cls, "NPB class")->capture_default_str();
    std::string corun_app_args;
    corun->add_option("--app-args", corun_app_args,
                      "Extra arguments for each app, mpi-barrier only (e.g. \"--iters 100000 "
                      "--work 6000\": a barrier every ~10 us)");
    corun->add_option("--threads", corun_threads, "Threads per app (0: all CPUs)")
        ->capture_default_str();
    corun->add_option("--policies", raw.policies, "Policies: " + join(kPolicies, ","))
        ->capture_default_str();
    add_common(corun, c, raw);

    auto* noise = app.add_subcommand("noise", "OS-noise probe (fixed work quantum) per mode");
    std::string noise_modes = "native,kvm,kvm-tickless", noise_threads = "0";
    noise->add_option("--modes", noise_modes, "Modes: " + join(all_mode_names(), ","))
        ->capture_default_str();
    noise->add_option("--threads", noise_threads, "FWQ threads (0: all CPUs)")
        ->capture_default_str();
    noise->add_option("--samples", raw.samples, "Samples per thread")->capture_default_str();
    noise->add_option("--quantum-us", raw.quantum_us, "Work quantum in microseconds")
        ->capture_default_str();
    add_common(noise, c, raw);

    auto* overhead = app.add_subcommand("overhead", "Cost of the OMPT tool: tool on vs off");
    std::string ov_kernels = "all", ov_cls = "A", ov_threads = std::to_string(online_cpus());
    overhead->add_option("--kernels", ov_kernels, "Kernels or all")->capture_default_str();
    overhead->add_option("--class", ov_cls, "NPB class(es)")->capture_default_str();
    overhead->add_option("--threads", ov_threads, "Thread counts")->capture_default_str();
    add_common(overhead, c, raw);

    auto* report =
        app.add_subcommand("report", "Re-render report.md, results.csv and charts from DIR");
    report->add_option("dir", raw.dir, "Results directory")->required();
    report->add_option("--gnuplot", c.gnuplot, "gnuplot program")->capture_default_str();

    auto* validate = app.add_subcommand("validate", "Check a results.json against its schema");
    validate->add_option("path", raw.dir, "results.json or its directory")->required();

    if (argc > 1 && argv[1][0] != '-') {
        bool known = false;
        std::vector<std::string> names;
        for (const auto* sub : app.get_subcommands({})) {
            names.push_back(sub->get_name());
            known = known || sub->get_name() == argv[1];
        }
        if (!known) {
            fmt::print(stderr, "vtasos-bench: error: unknown subcommand '{}' (expected {})\n",
                       argv[1], join(names, ", "));
            return kExitBadInput;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : kExitBadInput;
    }
    install_signal_handlers();

    if (*report) return render_report_dir(raw.dir, c.gnuplot);
    if (*validate) return validate_results(raw.dir);

    c.out_dir = raw.out;
    c.progress = !raw.no_progress;
    auto timeout = parse_duration(raw.timeout);
    if (!timeout) return fail(timeout.error().with_context("--timeout"));
    c.timeout = *timeout;
    const bool external = !c.npb_bin.empty();

    if (*scaling || *overhead) {
        ScalingOptions o;
        auto k = parse_kernels(*scaling ? raw.kernels : ov_kernels, external);
        if (!k) return fail(k.error());
        auto cls = parse_classes(*scaling ? raw.cls : ov_cls, external);
        if (!cls) return fail(cls.error());
        auto t = parse_positive_ints(*scaling ? raw.threads : ov_threads, "--threads");
        if (!t) return fail(t.error());
        o.kernels = *k;
        o.classes = *cls;
        o.threads = *t;
        if (*scaling) {
            auto m = parse_names(raw.modes, all_mode_names(), "--modes");
            if (!m) return fail(m.error());
            o.modes = *m;
            return run_scaling(c, o);
        }
        return run_overhead(c, o);
    }
    if (*pairs) {
        PairsOptions o;
        auto p = parse_pairs(raw.pairs, external);
        if (!p) return fail(p.error());
        auto cls = parse_class(pairs_cls, external);
        if (!cls) return fail(cls.error());
        auto b = parse_duration(raw.budget);
        if (!b) return fail(b.error().with_context("--budget"));
        auto cf = parse_names(raw.configs, kPairConfigs, "--configs");
        if (!cf) return fail(cf.error());
        if (pairs_threads != "0") {
            auto t = parse_positive_ints(pairs_threads, "--threads");
            if (!t) return fail(t.error());
            if (t->size() != 1)
                return fail(make_error(Errc::kInvalidArgument, "--threads: one value"));
            o.threads = t->front();
        }
        o.pairs = *p;
        o.cls = *cls;
        o.budget = *b;
        o.configs = *cf;
        return run_pairs(c, o);
    }
    if (*corun) {
        CorunOptions o;
        o.slice_ms = corun_slice_ms;
        auto k = parse_corun_apps(raw.apps, external);
        if (!k) return fail(k.error().with_context("--apps"));
        auto cls = parse_class(corun_cls, external);
        if (!cls) return fail(cls.error());
        auto pol = parse_names(raw.policies, kPolicies, "--policies");
        if (!pol) return fail(pol.error());
        if (corun_threads != "0") {
            auto t = parse_positive_ints(corun_threads, "--threads");
            if (!t) return fail(t.error());
            if (t->size() != 1)
                return fail(make_error(Errc::kInvalidArgument, "--threads: one value"));
            o.threads = t->front();
        }
        o.apps = *k;
        o.cls = *cls;
        o.policies = *pol;
        std::istringstream words(corun_app_args);
        for (std::string w; words >> w;) o.app_args.push_back(w);
        return run_corun(c, o);
    }
    if (*noise) {
        NoiseOptions o;
        auto m = parse_names(noise_modes, all_mode_names(), "--modes");
        if (!m) return fail(m.error());
        if (noise_threads != "0") {
            auto t = parse_positive_ints(noise_threads, "--threads");
            if (!t) return fail(t.error());
            if (t->size() != 1)
                return fail(make_error(Errc::kInvalidArgument, "--threads: one value"));
            o.threads = t->front();
        }
        o.modes = *m;
        o.samples = raw.samples;
        o.quantum_us = raw.quantum_us;
        return run_noise(c, o);
    }
    return kExitBadInput;
}
