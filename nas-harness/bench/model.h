// model.h: what one vtasos-bench invocation records, and its results.json / results.csv forms.
//
// The document is the single source of truth: `vtasos-bench report DIR` re-renders report.md,
// results.csv and the charts from results.json alone. Its layout is documented by
// results-schema.json next to this file (schema_version below must match the schema's).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fwq_report.h"
#include "npb_report.h"
#include "result.h"

namespace vtasos::bench {

inline constexpr int kSchemaVersion = 1;

// Outcome of one run; only kOk runs feed the statistics.
enum class RunStatus {
    kOk,           // exit 0, report parsed, verification SUCCESSFUL
    kUnverified,   // report parsed, Verification = UNSUCCESSFUL
    kFailed,       // non-zero exit, or the program could not be started
    kCrashed,      // killed by a signal
    kTimeout,      // ran past --timeout and was killed
    kParseError,   // exit 0 but no readable report
    kInterrupted,  // stopped by Ctrl-C
};
std::string_view run_status_name(RunStatus s);
std::optional<RunStatus> run_status_from_name(std::string_view name);

struct RunRecord {
    int id = 0;
    std::string benchmark;  // "cg", "fwq"
    std::string cls;        // "S"; empty for fwq
    int threads = 0;        // threads (OpenMP) or ranks (--mpi-np) asked for
    std::string variant;    // column of the tables: mode, pair config, policy, tool-on/off
    std::string mode;       // execution mode: native, vtasos, kvm, ...
    std::string group;      // pairs/corun: "cg+ft"; empty otherwise
    int slot = 0;           // position within the group (pairs: 0 or 1)
    int rep = 0;            // round, warm-up rounds included (0-based)
    bool warmup = false;    // discarded from statistics
    bool counted = true;    // pairs: false for runs that ended after the partner stopped
    RunStatus status = RunStatus::kFailed;
    std::string error;  // why status is not ok (empty when ok)
    int exit_code = -1;
    int signal = 0;
    double wall_s = 0;   // process wall time
    double start_s = 0;  // start offset from the experiment start
    std::vector<std::string> command;
    std::map<std::string, std::string> env;  // variables set (or "<unset>") for this run
    std::optional<NpbReport> npb;
    std::optional<FwqResult> fwq;
    std::string stdout_log, stderr_log;  // relative to the results directory

    bool usable() const { return status == RunStatus::kOk && !warmup && counted; }
};

// Availability of one requested variant (mode, policy, ...): every requested variant appears,
// with a reason when it was skipped.
struct VariantStatus {
    std::string name;
    bool available = false;
    std::string reason;  // why skipped (empty when available)
    std::string detail;  // e.g. tool paths used
    // Guest modes: the accelerator ("kvm", "tcg"); TCG runs are emulated and never enter
    // comparisons with the baseline (analysis.cpp) and are labelled so in report.md.
    std::string accel;
    bool emulated = false;
};

struct ResultsDoc {
    std::string experiment;  // scaling, pairs, corun, noise, overhead
    std::vector<std::string> command_line;
    std::string started_utc, finished_utc;
    bool interrupted = false;
    nlohmann::json parameters = nlohmann::json::object();
    nlohmann::json machine = nlohmann::json::object();
    nlohmann::json tool = nlohmann::json::object();
    std::vector<VariantStatus> variants;
    std::string baseline;            // the variant others are compared with
    std::vector<std::string> notes;  // warnings shown in the report
    std::vector<RunRecord> runs;
    nlohmann::json summary = nlohmann::json::array();  // derived (analysis.h), stored for readers
    nlohmann::json artifacts = nlohmann::json::object();
};

nlohmann::json to_json(const NpbReport& r);
nlohmann::json to_json(const FwqResult& r);
nlohmann::json to_json(const RunRecord& r);
nlohmann::json to_json(const ResultsDoc& d);

// Errors: kParse naming the JSON path of the first missing or mistyped field.
Result<ResultsDoc> doc_from_json(const nlohmann::json& j);

// One line per run; header first. Columns are documented in nas-harness/README.md.
std::string runs_csv(const ResultsDoc& d);

}  // namespace vtasos::bench
