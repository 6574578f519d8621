#include "model.h"

#include <fmt/format.h>

namespace vtasos::bench {
using nlohmann::json;

std::string_view run_status_name(RunStatus s) {
    switch (s) {
        case RunStatus::kOk:
            return "ok";
        case RunStatus::kUnverified:
            return "unverified";
        case RunStatus::kFailed:
            return "failed";
        case RunStatus::kCrashed:
            return "crashed";
        case RunStatus::kTimeout:
            return "timeout";
        case RunStatus::kParseError:
            return "parse_error";
        case RunStatus::kInterrupted:
            return "interrupted";
    }
    return "failed";
}

std::optional<RunStatus> run_status_from_name(std::string_view name) {
    for (auto s : {RunStatus::kOk, RunStatus::kUnverified, RunStatus::kFailed, RunStatus::kCrashed,
                   RunStatus::kTimeout, RunStatus::kParseError, RunStatus::kInterrupted})
        if (run_status_name(s) == name) return s;
    return std::nullopt;
}

json to_json(const NpbReport& r) {
    json j = {{"benchmark", r.benchmark},
              {"class", r.cls},
              {"size", r.size},
              {"iterations", r.iterations},
              {"time_s", r.time_s},
              {"mops_total", r.mops_total},
              {"threads", r.threads},
              {"operation_type", r.operation_type},
              {"verified", r.verified},
              {"version", r.version},
              {"compile_date", r.compile_date}};
    if (r.mops_per_worker) j["mops_per_worker"] = *r.mops_per_worker;
    if (r.avail_threads) j["avail_threads"] = *r.avail_threads;
    if (r.processes) j["processes"] = *r.processes;
    if (r.active_processes) j["active_processes"] = *r.active_processes;
    return j;
}

json to_json(const FwqResult& r) {
    json cdf = json::array();
    for (const auto& [p, d] : r.cdf) cdf.push_back({p, d});
    return {{"threads", r.threads},
            {"samples_per_thread", r.samples_per_thread},
            {"work_per_quantum", r.work_per_quantum},
            {"quantum_ns", r.quantum_ns},
            {"detour_min_ns", r.detour_min_ns},
            {"detour_median_ns", r.detour_median_ns},
            {"detour_p99_ns", r.detour_p99_ns},
            {"detour_max_ns", r.detour_max_ns},
            {"noise_fraction", r.noise_fraction},
            {"cdf", cdf}};
}

json to_json(const RunRecord& r) {
    json j = {{"id", r.id},
              {"benchmark", r.benchmark},
              {"class", r.cls},
              {"threads", r.threads},
              {"variant", r.variant},
              {"mode", r.mode},
              {"group", r.group},
              {"slot", r.slot},
              {"rep", r.rep},
              {"warmup", r.warmup},
              {"counted", r.counted},
              {"status", std::string(run_status_name(r.status))},
              {"error", r.error},
              {"exit_code", r.exit_code},
              {"signal", r.signal},
              {"wall_s", r.wall_s},
              {"start_s", r.start_s},
              {"command", r.command},
              {"env", r.env},
              {"stdout_log", r.stdout_log},
              {"stderr_log", r.stderr_log}};
    j["npb"] = r.npb ? to_json(*r.npb) : json(nullptr);
    j["fwq"] = r.fwq ? to_json(*r.fwq) : json(nullptr);
    return j;
}

json to_json(const ResultsDoc& d) {
    json variants = json::array();
    for (const auto& v : d.variants)
        variants.push_back({{"name", v.name},
                            {"available", v.available},
                            {"reason", v.reason},
                            {"detail", v.detail},
                            {"accel", v.accel},
                            {"emulated", v.emulated}});
    json skipped = json::array();
    for (const auto& v : d.variants)
        if (!v.available) skipped.push_back({{"name", v.name}, {"reason", v.reason}});
    json runs = json::array();
    for (const auto& r : d.runs) runs.push_back(to_json(r));
    return {{"schema_version", kSchemaVersion},
            {"experiment", d.experiment},
            {"command_line", d.command_line},
            {"started_utc", d.started_utc},
            {"finished_utc", d.finished_utc},
            {"interrupted", d.interrupted},
            {"parameters", d.parameters},
            {"machine", d.machine},
            {"tool", d.tool},
            {"variants", variants},
            {"skipped", skipped},
            {"baseline", d.baseline},
            {"notes", d.notes},
            {"runs", runs},
            {"summary", d.summary},
            {"artifacts", d.artifacts}};
}

namespace {

// Typed field access that remembers the JSON path for error messages.
struct Reader {
    std::string error;

    template <typename T>
    bool get(const json& obj, const std::string& path, const char* key, T* out) {
        if (!error.empty()) return false;
        if (!obj.is_object() || !obj.contains(key)) {
            error = fmt::format("results.json: missing field {}.{}", path, key);
            return false;
        }
        try {
            *out = obj.at(key).get<T>();
        } catch (const std::exception&) {
            error = fmt::format("results.json: field {}.{} has the wrong type ({})", path, key,
                                obj.at(key).type_name());
            return false;
        }
        return true;
    }
};

std::optional<NpbReport> npb_from_json(Reader& rd, const json& j, const std::string& path) {
    if (j.is_null()) return std::nullopt;
    NpbReport r;
    rd.get(j, path, "benchmark", &r.benchmark);
    rd.get(j, path, "class", &r.cls);
    rd.get(j, path, "size", &r.size);
    rd.get(j, path, "iterations", &r.iterations);
    rd.get(j, path, "time_s", &r.time_s);
    rd.get(j, path, "mops_total", &r.mops_total);
    rd.get(j, path, "threads", &r.threads);
    rd.get(j, path, "operation_type", &r.operation_type);
    rd.get(j, path, "verified", &r.verified);
    rd.get(j, path, "version", &r.version);
    rd.get(j, path, "compile_date", &r.compile_date);
    if (j.contains("mops_per_worker")) r.mops_per_worker = j["mops_per_worker"].get<double>();
    if (j.contains("avail_threads")) r.avail_threads = j["avail_threads"].get<int>();
    if (j.contains("processes")) r.processes = j["processes"].get<int>();
    if (j.contains("active_processes")) r.active_processes = j["active_processes"].get<int>();
    return r;
}

std::optional<FwqResult> fwq_from_json(Reader& rd, const json& j, const std::string& path) {
    if (j.is_null()) return std::nullopt;
    FwqResult r;
    rd.get(j, path, "threads", &r.threads);
    rd.get(j, path, "samples_per_thread", &r.samples_per_thread);
    rd.get(j, path, "work_per_quantum", &r.work_per_quantum);
    rd.get(j, path, "quantum_ns", &r.quantum_ns);
    rd.get(j, path, "detour_min_ns", &r.detour_min_ns);
    rd.get(j, path, "detour_median_ns", &r.detour_median_ns);
    rd.get(j, path, "detour_p99_ns", &r.detour_p99_ns);
    rd.get(j, path, "detour_max_ns", &r.detour_max_ns);
    rd.get(j, path, "noise_fraction", &r.noise_fraction);
    std::vector<std::vector<double>> cdf;
    rd.get(j, path, "cdf", &cdf);
    for (const auto& p : cdf)
        if (p.size() == 2) r.cdf.emplace_back(p[0], p[1]);
    return r;
}

}  // namespace

Result<ResultsDoc> doc_from_json(const json& j) {
    Reader rd;
    ResultsDoc d;
    int version = 0;
    rd.get(j, "$", "schema_version", &version);
    if (rd.error.empty() && version != kSchemaVersion)
        return make_error(Errc::kParse, fmt::format("results.json: schema_version {} is not "
                                                    "supported (expected {})",
                                                    version, kSchemaVersion));
    rd.get(j, "$", "experiment", &d.experiment);
    rd.get(j, "$", "command_line", &d.command_line);
    rd.get(j, "$", "started_utc", &d.started_utc);
    rd.get(j, "$", "finished_utc", &d.finished_utc);
    rd.get(j, "$", "interrupted", &d.interrupted);
    rd.get(j, "$", "parameters", &d.parameters);
    rd.get(j, "$", "machine", &d.machine);
    rd.get(j, "$", "tool", &d.tool);
    rd.get(j, "$", "baseline", &d.baseline);
    rd.get(j, "$", "notes", &d.notes);
    json variants, runs;
    rd.get(j, "$", "variants", &variants);
    rd.get(j, "$", "runs", &runs);
    if (!rd.error.empty()) return make_error(Errc::kParse, rd.error);
    for (size_t i = 0; i < variants.size(); ++i) {
        VariantStatus v;
        auto path = fmt::format("$.variants[{}]", i);
        rd.get(variants[i], path, "name", &v.name);
        rd.get(variants[i], path, "available", &v.available);
        rd.get(variants[i], path, "reason", &v.reason);
        rd.get(variants[i], path, "detail", &v.detail);
        if (variants[i].contains("accel")) rd.get(variants[i], path, "accel", &v.accel);
        if (variants[i].contains("emulated")) rd.get(variants[i], path, "emulated", &v.emulated);
        d.variants.push_back(v);
    }
    for (size_t i = 0; i < runs.size() && rd.error.empty(); ++i) {
        const auto& rj = runs[i];
        auto path = fmt::format("$.runs[{}]", i);
        RunRecord r;
        std::string status;
        rd.get(rj, path, "id", &r.id);
        rd.get(rj, path, "benchmark", &r.benchmark);
        rd.get(rj, path, "class", &r.cls);
        rd.get(rj, path, "threads", &r.threads);
        rd.get(rj, path, "variant", &r.variant);
        rd.get(rj, path, "mode", &r.mode);
        rd.get(rj, path, "group", &r.group);
        rd.get(rj, path, "slot", &r.slot);
        rd.get(rj, path, "rep", &r.rep);
        rd.get(rj, path, "warmup", &r.warmup);
        rd.get(rj, path, "counted", &r.counted);
        rd.get(rj, path, "status", &status);
        rd.get(rj, path, "error", &r.error);
        rd.get(rj, path, "exit_code", &r.exit_code);
        rd.get(rj, path, "signal", &r.signal);
        rd.get(rj, path, "wall_s", &r.wall_s);
        rd.get(rj, path, "start_s", &r.start_s);
        rd.get(rj, path, "command", &r.command);
        rd.get(rj, path, "env", &r.env);
        rd.get(rj, path, "stdout_log", &r.stdout_log);
        rd.get(rj, path, "stderr_log", &r.stderr_log);
        if (!rd.error.empty()) break;
        auto st = run_status_from_name(status);
        if (!st)
            return make_error(
                Errc::kParse,
                fmt::format("results.json: {}.status: unknown value '{}'", path, status));
        r.status = *st;
        try {
            r.npb = npb_from_json(rd, rj.value("npb", json(nullptr)), path + ".npb");
            r.fwq = fwq_from_json(rd, rj.value("fwq", json(nullptr)), path + ".fwq");
        } catch (const std::exception& e) {
            return make_error(Errc::kParse, fmt::format("results.json: {}: {}", path, e.what()));
        }
        d.runs.push_back(std::move(r));
    }
    if (!rd.error.empty()) return make_error(Errc::kParse, rd.error);
    if (j.contains("summary")) d.summary = j["summary"];
    if (j.contains("artifacts")) d.artifacts = j["artifacts"];
    return d;
}

namespace {
std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}
}  // namespace

std::string runs_csv(const ResultsDoc& d) {
    std::string s =
        "id,experiment,benchmark,class,threads,variant,mode,group,slot,rep,warmup,counted,status,"
        "exit_code,signal,wall_s,start_s,time_s,mops_total,verified,noise_fraction,error\n";
    for (const auto& r : d.runs) {
        s += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.6f},{:.6f},", r.id,
                         d.experiment, csv_field(r.benchmark), r.cls, r.threads,
                         csv_field(r.variant), csv_field(r.mode), csv_field(r.group), r.slot, r.rep,
                         r.warmup ? 1 : 0, r.counted ? 1 : 0, run_status_name(r.status),
                         r.exit_code, r.signal, r.wall_s, r.start_s);
        if (r.npb)
            s += fmt::format("{:.2f},{:.2f},{},", r.npb->time_s, r.npb->mops_total,
                             r.npb->verified ? 1 : 0);
        else
            s += ",,,";
        s += r.fwq ? fmt::format("{:.6f}", r.fwq->noise_fraction) : "";
        s += "," + csv_field(r.error) + "\n";
    }
    return s;
}

}  // namespace vtasos::bench
