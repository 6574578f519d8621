// results.json model, schema validator, analysis and Markdown report on synthetic documents.
#include <gtest/gtest.h>

#include "analysis.h"
#include "model.h"
#include "report_md.h"
#include "schema.h"
#include "util.h"

namespace vtasos::bench {
namespace {
using nlohmann::json;

NpbReport npb(const std::string& name, double time, double mops) {
    NpbReport r;
    r.benchmark = name;
    r.cls = "S";
    r.size = "1400";
    r.iterations = 15;
    r.time_s = time;
    r.mops_total = mops;
    r.threads = 2;
    r.verified = true;
    r.version = "3.4.2";
    return r;
}

ResultsDoc scaling_doc() {
    ResultsDoc d;
    d.experiment = "scaling";
    d.command_line = {"vtasos-bench", "scaling"};
    d.started_utc = "2026-01-01T00:00:00Z";
    d.finished_utc = "2026-01-01T00:01:00Z";
    d.parameters = {{"reps", 5},
                    {"warmup", 1},
                    {"timeout_s", 600.0},
                    {"seed", 1},
                    {"variants", {"native", "vtasos", "kvm"}}};
    d.machine = {{"hostname", "h"},
                 {"cpu_model", "cpu"},
                 {"logical_cpus", 2},
                 {"cores", 2},
                 {"sockets", 1},
                 {"numa_nodes", 1},
                 {"topology_source", "sysfs"},
                 {"topology_text", ""},
                 {"kernel", "Linux"},
                 {"os", "Debian"},
                 {"virtualization", "none"},
                 {"compiler", "Clang"},
                 {"libraries", {{"fmt", "9.1.0"}}},
                 {"vtasos_git_revision", "abc"}};
    d.tool = {{"name", "vtasos-bench"}, {"version", "0.1.0"}};
    d.variants = {{"native", true, "", "stock"},
                  {"vtasos", true, "", "daemon"},
                  {"kvm", false, "vtasos-image not found", ""}};
    d.baseline = "native";
    int id = 0;
    // cg: vtasos clearly faster; ep: inside the noise.
    const double cg_native[] = {1.00, 1.01, 0.99, 1.00, 1.02};
    const double cg_vtasos[] = {0.80, 0.81, 0.79, 0.80, 0.82};
    const double ep_native[] = {1.00, 1.05, 0.95, 1.02, 0.98};
    const double ep_vtasos[] = {0.99, 1.04, 0.94, 1.01, 0.97};
    for (int rep = 0; rep < 6; ++rep)
        for (const char* k : {"ep", "cg"})
            for (const char* v : {"native", "vtasos"}) {
                RunRecord r;
                r.id = id++;
                r.benchmark = k;
                r.cls = "S";
                r.threads = 2;
                r.variant = v;
                r.mode = v;
                r.rep = rep;
                r.warmup = rep == 0;
                r.status = RunStatus::kOk;
                r.exit_code = 0;
                r.wall_s = 1.5;
                r.command = {"/bin/" + std::string(k)};
                r.env = {{"OMP_NUM_THREADS", "2"}};
                double t =
                    rep == 0
                        ? 5.0
                        : (std::string(k) == "cg"
                               ? (std::string(v) == "native" ? cg_native : cg_vtasos)[rep - 1]
                               : (std::string(v) == "native" ? ep_native : ep_vtasos)[rep - 1]);
                r.npb = npb(k == std::string("cg") ? "CG" : "EP", t, 1000.0 / t);
                d.runs.push_back(r);
            }
    RunRecord bad;
    bad.id = id++;
    bad.benchmark = "cg";
    bad.cls = "S";
    bad.threads = 2;
    bad.variant = "vtasos";
    bad.mode = "vtasos";
    bad.rep = 6;
    bad.status = RunStatus::kCrashed;
    bad.signal = 11;
    bad.error = "killed by SIGSEGV";
    d.runs.push_back(bad);
    return d;
}

TEST(Schema, ValidatorBasics) {
    json schema = {
        {"type", "object"},
        {"required", {"a"}},
        {"additionalProperties", false},
        {"properties",
         {{"a", {{"type", "integer"}, {"minimum", 1}}},
          {"b", {{"enum", {"x", "y"}}}},
          {"c", {{"$ref", "#/$defs/list"}}}}},
        {"$defs",
         {{"list", {{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1}}}}}};
    EXPECT_TRUE(validate_json({{"a", 1}, {"b", "x"}, {"c", {"s"}}}, schema).empty());
    auto errs = validate_json({{"b", "z"}, {"c", json::array({1})}, {"d", 0}}, schema);
    auto all = join(errs, "\n");
    EXPECT_NE(all.find("$: missing required property 'a'"), std::string::npos) << all;
    EXPECT_NE(all.find("$.b: \"z\" is not one of"), std::string::npos) << all;
    EXPECT_NE(all.find("$.c[0]: expected string, got number"), std::string::npos) << all;
    EXPECT_NE(all.find("$.d: not allowed"), std::string::npos) << all;
    EXPECT_FALSE(validate_json({{"a", 0}}, schema).empty());
    EXPECT_FALSE(validate_json({{"a", 1.5}}, schema).empty());
    EXPECT_TRUE(validate_json({{"a", 2.0}}, schema).empty());  // whole number counts as integer
    auto unsupported = validate_json(1, {{"pattern", "x"}});
    ASSERT_EQ(unsupported.size(), 1u);
    EXPECT_NE(unsupported[0].find("not supported"), std::string::npos);
}

TEST(Schema, CommittedFileIsTheCompiledInOne) {
    auto text = read_file(VTASOS_BENCH_SCHEMA_FILE);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(json::parse(*text), results_schema());
    // The schema uses only keywords the validator supports.
    EXPECT_TRUE(validate_json(json::object(), json{{"type", "object"}}).empty());
}

TEST(Results, DocumentValidatesAndRoundTrips) {
    auto d = scaling_doc();
    auto a = analyze(d);
    d.summary = summary_json(a);
    auto j = to_json(d);
    auto errors = validate_json(j, results_schema());
    EXPECT_TRUE(errors.empty()) << join(errors, "\n");
    auto back = doc_from_json(j);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(to_json(*back), j);
    EXPECT_EQ(back->runs.back().status, RunStatus::kCrashed);
    // skipped variants carry their reason
    ASSERT_EQ(j["skipped"].size(), 1u);
    EXPECT_EQ(j["skipped"][0]["name"], "kvm");
    EXPECT_EQ(j["skipped"][0]["reason"], "vtasos-image not found");
}

TEST(Results, MissingFieldIsNamed) {
    auto j = to_json(scaling_doc());
    j["runs"][3].erase("wall_s");
    auto back = doc_from_json(j);
    ASSERT_FALSE(back.ok());
    EXPECT_NE(back.error().message().find("$.runs[3].wall_s"), std::string::npos)
        << back.error().message();
    EXPECT_FALSE(validate_json(j, results_schema()).empty());
    j = to_json(scaling_doc());
    j["runs"][0]["status"] = "exploded";
    EXPECT_FALSE(doc_from_json(j).ok());
    EXPECT_FALSE(validate_json(j, results_schema()).empty());
}

TEST(Analysis, ScalingRowsAndVerdicts) {
    auto a = analyze(scaling_doc());
    ASSERT_EQ(a.scaling.size(), 4u);  // ep native, ep vtasos, cg native, cg vtasos
    const auto& ep_v = a.scaling[1];
    const auto& cg_n = a.scaling[2];
    const auto& cg_v = a.scaling[3];
    EXPECT_EQ(ep_v.benchmark, "ep");
    EXPECT_EQ(ep_v.variant, "vtasos");
    ASSERT_TRUE(ep_v.vs_baseline.has_value());
    EXPECT_EQ(ep_v.vs_baseline->verdict, Verdict::kNoSignificantDifference);
    EXPECT_EQ(ep_v.ratio_basis, "mops");
    EXPECT_EQ(cg_n.counts.ok, 5u);  // warm-up excluded
    EXPECT_DOUBLE_EQ(cg_n.time.center, 1.00);
    EXPECT_FALSE(cg_n.vs_baseline.has_value());
    ASSERT_TRUE(cg_v.vs_baseline.has_value());
    EXPECT_EQ(cg_v.vs_baseline->verdict, Verdict::kLower);
    EXPECT_NEAR(cg_v.vs_baseline->ratio, 0.8, 1e-9);
    EXPECT_EQ(cg_v.counts.attempted, 6u);
    EXPECT_EQ(cg_v.counts.failed, 1u);
}

TEST(Analysis, SameDocumentSameSummary) {
    auto d = scaling_doc();
    EXPECT_EQ(summary_json(analyze(d)), summary_json(analyze(d)));
}

TEST(Report, MarkdownShowsVerdictsSkipsAndFailures) {
    auto d = scaling_doc();
    auto a = analyze(d);
    auto md = report_md(d, a, {"charts/scaling-time.svg", "charts/scaling-time.png"});
    EXPECT_NE(md.find("| cg | S | 2 | vtasos | 5/6 |"), std::string::npos) << md;
    EXPECT_NE(md.find("% faster"), std::string::npos);
    EXPECT_NE(md.find("no significant difference"), std::string::npos);
    EXPECT_NE(md.find("| kvm | **skipped** | vtasos-image not found |"), std::string::npos) << md;
    EXPECT_NE(md.find("killed by SIGSEGV"), std::string::npos);
    EXPECT_NE(md.find("![charts/scaling-time.svg](charts/scaling-time.svg)"), std::string::npos);
    EXPECT_EQ(md.find("scaling-time.png)"), std::string::npos);
}

TEST(Analysis, PairsCorunNoise) {
    ResultsDoc d;
    d.experiment = "pairs";
    d.baseline = "stock";
    d.variants = {{"stock", true, "", ""}, {"vtasos", true, "", ""}};
    int id = 0;
    for (const char* v : {"stock", "vtasos"})
        for (int slot = 0; slot < 2; ++slot)
            for (int rep = 0; rep < 4; ++rep) {
                RunRecord r;
                r.id = id++;
                r.benchmark = slot ? "ft" : "cg";
                r.cls = "W";
                r.threads = 2;
                r.variant = v;
                r.mode = std::string(v) == "stock" ? "native" : "vtasos";
                r.group = "cg+ft";
                r.slot = slot;
                r.rep = rep;
                r.counted = rep < 3;
                r.status = RunStatus::kOk;
                double t = (std::string(v) == "stock" ? 2.0 : 1.0) + 0.01 * rep;
                r.npb = npb(slot ? "FT" : "CG", rep == 3 ? 100.0 : t, 1.0);
                d.runs.push_back(r);
            }
    auto a = analyze(d);
    ASSERT_EQ(a.pairs.size(), 4u);
    EXPECT_EQ(a.pairs[0].variant, "stock");
    EXPECT_NEAR(a.pairs[0].time.center, 2.01, 1e-9);  // background run (100 s) not counted
    ASSERT_TRUE(a.pairs[1].vs_baseline.has_value());
    EXPECT_EQ(a.pairs[1].vs_baseline->verdict, Verdict::kLower);
    EXPECT_NE(results_tables_md(a).find("| cg+ft | cg | vtasos | 3/3 |"), std::string::npos)
        << results_tables_md(a);

    ResultsDoc c;
    c.experiment = "corun";
    c.baseline = "cfs-active";
    c.variants = {{"cfs-active", true, "", ""}, {"gang", false, "no --gang", ""}};
    for (int rep = 0; rep < 3; ++rep)
        for (int slot = 0; slot < 2; ++slot) {
            RunRecord r;
            r.benchmark = slot ? "mg" : "cg";
            r.variant = "cfs-active";
            r.group = "cg+mg";
            r.rep = rep;
            r.start_s = 10.0 * rep;
            r.wall_s = slot ? 3.0 : 2.0;
            r.status = RunStatus::kOk;
            c.runs.push_back(r);
        }
    auto ca = analyze(c);
    ASSERT_EQ(ca.corun.size(), 1u);
    EXPECT_EQ(ca.corun[0].reps, 3u);
    EXPECT_DOUBLE_EQ(ca.corun[0].makespan.center, 3.0);
    EXPECT_DOUBLE_EQ(ca.corun[0].per_app["cg"].center, 2.0);

    ResultsDoc n;
    n.experiment = "noise";
    n.variants = {{"native", true, "", ""}};
    for (int rep = 0; rep < 2; ++rep) {
        RunRecord r;
        r.benchmark = "fwq";
        r.variant = "native";
        r.status = RunStatus::kOk;
        r.rep = rep;
        r.fwq = compute_fwq({{100, 100, 100 + 100.0 * rep}}, 10);
        n.runs.push_back(r);
    }
    auto na = analyze(n);
    ASSERT_EQ(na.noise.size(), 1u);
    EXPECT_EQ(na.noise[0].reps, 2u);
    EXPECT_DOUBLE_EQ(na.noise[0].fwq.detour_max_ns, 50);      // median of 0 and 100
    EXPECT_DOUBLE_EQ(na.noise[0].fwq.cdf.back().second, 50);  // mean of the two CDFs
}

}  // namespace
}  // namespace vtasos::bench
