#include "vtasos/daemon/protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "vtasos/core/json_fields.h"

namespace vtasos::daemon {
namespace {

using nlohmann::json;
namespace jf = vtasos::json;

// The one table the parser, hello and docs/protocol.md follow.
const std::vector<OpInfo>& table() {
    static const std::vector<OpInfo> t = {
        {Op::kHello, "hello", {"client"}, "versions, daemon pid, driver capabilities"},
        {Op::kRegister,
         "register",
         {"tenant", "pids", "request", "profile", "cpus", "detached", "threads", "job", "vm",
          "domain"},
         "place a tenant and confine its processes; with job: an MPI rank joins its job's tenant"},
        {Op::kUpdate,
         "update",
         {"tenant", "observations"},
         "report learned rates; may trigger one re-placement"},
        {Op::kAdvice, "advice", {"tenant"}, "node load and suggested thread count"},
        {Op::kRelease, "release", {"tenant", "pid"},
         "unpin, thaw and forget a tenant; with pid: that process leaves it"},
        {Op::kStatus, "status", {}, "every tenant, its placement and why; driver caps"},
        {Op::kTopology, "topology", {}, "the machine as JSON and as a tree"},
        {Op::kFreeze, "freeze", {"tenant"}, "stop every task of a tenant"},
        {Op::kThaw, "thaw", {"tenant"}, "resume a frozen tenant"},
        {Op::kThawAll, "thaw_all", {}, "resume every tenant (root: every vtasos cgroup)"},
        {Op::kProbe, "probe", {"tenant", "duration_ms", "action"},
         "classify a tenant's bandwidth demand with a streaming probe on free PUs beside it"},
    };
    return t;
}

Error invalid(std::string msg) { return Error(Errc::kInvalidArgument, std::move(msg)); }
Error protocol(std::string msg) { return Error(Errc::kProtocol, std::move(msg)); }

// Depth of the deepest array/object, computed without parsing (strings are
// skipped, escapes honoured). Stops counting once past the limit.
int nesting_depth(std::string_view s) {
    int depth = 0, max_depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{')
            max_depth = std::max(max_depth, ++depth);
        else if (c == ']' || c == '}')
            --depth;
        if (max_depth > kMaxNesting) break;
    }
    return max_depth;
}

// "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
// -> "syntax error ..." (the byte offset is reported separately).
std::string short_parse_error(const char* what) {
    std::string_view w(what);
    if (auto p = w.find("]"); p != w.npos && w.front() == '[') w.remove_prefix(p + 1);
    if (auto p = w.find(": "); p != w.npos && w.substr(0, p).find("parse error") != w.npos)
        w.remove_prefix(p + 2);
    while (!w.empty() && w.front() == ' ') w.remove_prefix(1);
    std::string out(w.substr(0, 160));
    if (w.size() > 160) out += "...";
    return out;
}

Result<std::string> tenant_field(const json& j, std::string_view op) {
    return jf::get_string(j, "tenant", op, 64, true);
}

// Array of distinct pids/tids in 1..kMaxPid, at most `max` entries.
Result<std::vector<pid_t>> pid_array(const json& j, std::string_view key, std::string_view op,
                                     size_t max) {
    std::string path = jf::join_path(op, key);
    auto it = j.find(std::string(key));
    if (it == j.end()) return std::vector<pid_t>{};
    if (!it->is_array() || it->size() > max)
        return jf::field_error(path, fmt::format("an array of at most {} process ids", max), *it);
    std::vector<pid_t> out;
    std::set<pid_t> seen;
    for (size_t i = 0; i < it->size(); ++i) {
        const json& v = (*it)[i];
        auto ip = fmt::format("{}[{}]", path, i);
        bool ok = (v.is_number_integer() || v.is_number_unsigned());
        int64_t x = 0;
        if (v.is_number_unsigned()) {
            ok = v.get<uint64_t>() <= static_cast<uint64_t>(kMaxPid);
            if (ok) x = static_cast<int64_t>(v.get<uint64_t>());
        } else if (ok) {
            x = v.get<int64_t>();
            ok = x >= 1 && x <= kMaxPid;
        }
        if (!ok || x < 1)
            return jf::field_error(ip, fmt::format("an integer in 1..{}", kMaxPid), v);
        if (!seen.insert(static_cast<pid_t>(x)).second)
            return invalid(fmt::format("{}: process id {} repeated", ip, x));
        out.push_back(static_cast<pid_t>(x));
    }
    return out;
}

// Rewrites the "request." / "profile." prefix of a core validation error so
// that the path matches the wire message ("register.request.cpus").
Error reprefix(const Error& e, std::string_view from, std::string_view to) {
    const std::string& m = e.message();
    if (m.rfind(from, 0) == 0) return Error(e.code(), std::string(to) + m.substr(from.size()));
    return Error(e.code(), std::string(to) + ": " + m);
}

// register.job (see JobArgs). The rest of register must fit a rank: exactly
// one pid, no request, no cpus, no thread ids.
Result<JobArgs> parse_job(const json& jj, const RegisterArgs& a) {
    const std::string path = "register.job";
    if (auto s = jf::check_object(jj, path,
                                  {"local_rank", "local_size", "threads", "wait_ms",
                                   "oversubscribe", "nspace", "rank", "node", "host"});
        !s)
        return s.error();
    if (a.pids.size() != 1)
        return invalid(fmt::format("register.pids: a job rank registers exactly one pid, got {}",
                                   a.pids.size()));
    if (a.request) return invalid("register.job: cannot be combined with register.request");
    if (a.cpus != 0) return invalid("register.job: cannot be combined with register.cpus (use job.threads)");
    if (!a.threads.empty()) return invalid("register.job: cannot be combined with register.threads");
    JobArgs g;
    auto size = jf::get_int(jj, "local_size", path, 1, kMaxPidsPerTenant);
    if (!size) return size.error();
    g.local_size = static_cast<int>(*size);
    auto lr = jf::get_int(jj, "local_rank", path, 0, g.local_size - 1);
    if (!lr) return lr.error();
    g.local_rank = static_cast<int>(*lr);
    auto th = jf::get_int(jj, "threads", path, 1, kMaxCpusPerRequest, 1);
    if (!th) return th.error();
    g.threads = static_cast<int>(*th);
    if (static_cast<int64_t>(g.threads) * g.local_size > kMaxCpusPerRequest)
        return invalid(fmt::format("{}.threads: {} ranks x {} threads is more than {} cpus", path,
                                   g.local_size, g.threads, kMaxCpusPerRequest));
    auto w = jf::get_int(jj, "wait_ms", path, 0, kMaxJobWaitMs, 3000);
    if (!w) return w.error();
    g.wait_ms = static_cast<int>(*w);
    auto o = jf::get_bool(jj, "oversubscribe", path, false);
    if (!o) return o.error();
    g.oversubscribe = *o;
    auto ns = jf::get_string(jj, "nspace", path, 255, false, std::string());
    if (!ns) return ns.error();
    g.nspace = *ns;
    auto host = jf::get_string(jj, "host", path, 255, false, std::string());
    if (!host) return host.error();
    g.host = *host;
    auto rank = jf::get_int(jj, "rank", path, 0, INT32_MAX, -1);
    if (!rank) return rank.error();
    g.rank = *rank;
    auto node = jf::get_int(jj, "node", path, 0, INT32_MAX, -1);
    if (!node) return node.error();
    g.node = *node;
    return g;
}

Result<OpArgs> parse_register(const json& j) {
    const std::string_view op = "register";
    RegisterArgs a;
    auto tenant = tenant_field(j, op);
    if (!tenant) return tenant.error();
    a.tenant = *tenant;
    auto pids = pid_array(j, "pids", op, kMaxPidsPerTenant);
    if (!pids) return pids.error();
    a.pids = std::move(*pids);
    auto threads = pid_array(j, "threads", op, kMaxCpusPerRequest);
    if (!threads) return threads.error();
    a.threads = std::move(*threads);
    auto detached = jf::get_bool(j, "detached", op, false);
    if (!detached) return detached.error();
    a.detached = *detached;
    auto cpus = jf::get_int(j, "cpus", op, 0, kMaxCpusPerRequest, 0);
    if (!cpus) return cpus.error();
    a.cpus = static_cast<int>(*cpus);
    if (j.contains("profile")) {
        if (j.contains("request"))
            return invalid("register.profile: cannot be combined with register.request");
        auto p = jf::get_string(j, "profile", op, 64, true);
        if (!p) return p.error();
        a.profile = *p;
    }
    if (j.contains("request")) {
        if (j.contains("cpus"))
            return invalid(
                "register.cpus: cannot be combined with register.request (use request.cpus)");
        json rq = j["request"];
        if (!rq.is_object()) return jf::field_error("register.request", "an object", rq);
        if (auto t = rq.find("tenant"); t == rq.end()) {
            rq["tenant"] = a.tenant;
        } else if (!t->is_string() || t->get_ref<const std::string&>() != a.tenant) {
            return jf::field_error(
                "register.request.tenant",
                fmt::format("the register tenant \"{}\" (or no tenant)", a.tenant), *t);
        }
        auto r = Request::from_json(rq);
        if (!r) return reprefix(r.error(), "request", "register.request");
        a.request = std::move(*r);
    }
    if (j.contains("job")) {
        auto job = parse_job(j["job"], a);
        if (!job) return job.error();
        a.job = std::move(*job);
    }
    if (j.contains("vm")) {
        auto vm = parse_vm_args(j["vm"], a);
        if (!vm) return vm.error();
        a.vm = std::move(*vm);
    }
    if (j.contains("domain")) {  // a Xen domain by name or domid (docs/protocol.md "Xen domains")
        const json& d = j["domain"];
        if (d.is_number_integer() && d.get<int64_t>() >= 1 && d.get<int64_t>() < 0x7ff0) {
            a.domain = std::to_string(d.get<int64_t>());
        } else {
            auto name = jf::get_string(j, "domain", op, 64, true);
            if (!name) return name.error();
            a.domain = *name;
        }
        if (!a.pids.empty() || !a.threads.empty() || a.job || a.vm)
            return invalid("register.domain: cannot be combined with pids, threads, job or vm");
    }
    if (!a.threads.empty()) {
        int cpus_wanted = a.request ? a.request->cpus : a.cpus;
        if (cpus_wanted > 0 && static_cast<int>(a.threads.size()) > cpus_wanted)
            return invalid(
                fmt::format("register.threads: {} thread ids for {} cpus (at most one per cpu)",
                            a.threads.size(), cpus_wanted));
        if (a.pids.empty()) return invalid("register.threads: thread ids need register.pids");
    }
    return OpArgs(std::move(a));
}

Result<OpArgs> parse_update(const json& j) {
    const std::string_view op = "update";
    UpdateArgs a;
    auto tenant = tenant_field(j, op);
    if (!tenant) return tenant.error();
    a.tenant = *tenant;
    auto it = j.find("observations");
    if (it == j.end()) return invalid("update.observations: required field is missing");
    if (!it->is_object()) return jf::field_error("update.observations", "an object", *it);
    json obs = *it;
    if (!obs.contains("name")) obs["name"] = a.tenant;
    auto p = Profile::from_json(obs);
    if (!p) return reprefix(p.error(), "profile", "update.observations");
    a.observations = std::move(*p);
    return OpArgs(std::move(a));
}

Result<OpArgs> parse_probe(const json& j) {
    const std::string_view op = "probe";
    ProbeArgs a;
    auto tenant = tenant_field(j, op);
    if (!tenant) return tenant.error();
    a.tenant = *tenant;
    auto d = jf::get_int(j, "duration_ms", op, kMinProbeMs, kMaxProbeMs, a.duration_ms);
    if (!d) return d.error();
    a.duration_ms = static_cast<int>(*d);
    auto action = jf::get_string(j, "action", op, 16, false, std::string("start"));
    if (!action) return action.error();
    if (*action != "start" && *action != "result")
        return jf::field_error("probe.action", "\"start\" or \"result\"", j.at("action"));
    a.result_only = *action == "result";
    return OpArgs(std::move(a));
}

}  // namespace

std::span<const OpInfo> op_table() { return table(); }

std::string_view to_string(Op op) {
    for (const auto& row : table())
        if (row.op == op) return row.name;
    return "?";
}

Parsed parse_message(std::string_view line) {
    Parsed out;
    try {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > kMaxMessageBytes) {
            out.message =
                protocol(fmt::format("message: {} bytes exceeds the 64 KiB limit ({} bytes)",
                                     line.size(), kMaxMessageBytes));
            return out;
        }
        if (line.find_first_not_of(" \t") == std::string_view::npos) {
            out.message = protocol("message: empty line (expected one JSON object)");
            return out;
        }
        if (nesting_depth(line) > kMaxNesting) {
            out.message =
                protocol(fmt::format("message: nested deeper than {} levels", kMaxNesting));
            return out;
        }
        json j;
        try {
            j = json::parse(line.begin(), line.end());
        } catch (const json::parse_error& e) {
            out.message = protocol(fmt::format("message: invalid JSON at byte {}: {}", e.byte,
                                               short_parse_error(e.what())));
            return out;
        } catch (const json::exception& e) {  // e.g. out_of_range 406: number overflow
            out.message =
                protocol(fmt::format("message: invalid JSON: {}", short_parse_error(e.what())));
            return out;
        }
        if (!j.is_object()) {
            out.message = jf::field_error("message", "a JSON object", j);
            return out;
        }
        // The id first, so that every later error reply carries it.
        auto idit = j.find("id");
        if (idit == j.end()) {
            out.message = invalid("id: required field is missing");
            return out;
        }
        auto id = jf::get_int(j, "id", "", 0, kMaxId);
        if (!id) {
            out.message = id.error();
            return out;
        }
        out.id = *id;
        auto vit = j.find("v");
        if (vit == j.end()) {
            out.message = protocol(fmt::format(
                "v: required field is missing (this daemon speaks version {})", kProtocolVersion));
            return out;
        }
        if (!vit->is_number_integer() || vit->get<int64_t>() != kProtocolVersion) {
            out.message =
                protocol(fmt::format("v: unsupported protocol version {} (this daemon speaks {})",
                                     jf::describe(*vit), kProtocolVersion));
            return out;
        }
        auto opit = j.find("op");
        if (opit == j.end()) {
            out.message = invalid("op: required field is missing");
            return out;
        }
        const OpInfo* info = nullptr;
        if (opit->is_string()) {
            for (const auto& row : table())
                if (row.name == opit->get_ref<const std::string&>()) info = &row;
        }
        if (!info) {
            std::string known;
            for (const auto& row : table())
                known += (known.empty() ? "" : ", ") + std::string(row.name);
            out.message = jf::field_error("op", "one of " + known, *opit);
            return out;
        }
        // Unknown fields: report them under the op's name ("register.cpu: unknown field").
        for (const auto& [key, value] : j.items()) {
            if (key == "v" || key == "id" || key == "op") continue;
            if (std::find(info->fields.begin(), info->fields.end(), key) == info->fields.end()) {
                std::string shown = key.size() > 40 ? key.substr(0, 40) + "..." : key;
                out.message = invalid(fmt::format(
                    "{}.{}: unknown field (allowed: {})", info->name, shown,
                    info->fields.empty() ? "none" : [&] {
                        std::string s;
                        for (auto f : info->fields) s += (s.empty() ? "" : ", ") + std::string(f);
                        return s;
                    }()));
                return out;
            }
        }
        Message m;
        m.id = *id;
        m.op = info->op;
        switch (info->op) {
            case Op::kHello: {
                HelloArgs h;
                if (j.contains("client")) {
                    auto c = jf::get_string(j, "client", "hello", 64, true);
                    if (!c) {
                        out.message = c.error();
                        return out;
                    }
                    h.client = *c;
                }
                m.args = h;
                break;
            }
            case Op::kRegister: {
                auto a = parse_register(j);
                if (!a) {
                    out.message = a.error();
                    return out;
                }
                m.args = std::move(*a);
                break;
            }
            case Op::kUpdate: {
                auto a = parse_update(j);
                if (!a) {
                    out.message = a.error();
                    return out;
                }
                m.args = std::move(*a);
                break;
            }
            case Op::kAdvice:
            case Op::kRelease:
            case Op::kFreeze:
            case Op::kThaw: {
                auto t = tenant_field(j, info->name);
                if (!t) {
                    out.message = t.error();
                    return out;
                }
                TenantArgs ta{*t, std::nullopt};
                if (info->op == Op::kRelease && j.contains("pid")) {
                    auto pid = jf::get_int(j, "pid", "release", 1, kMaxPid);
                    if (!pid) {
                        out.message = pid.error();
                        return out;
                    }
                    ta.pid = static_cast<pid_t>(*pid);
                }
                m.args = std::move(ta);
                break;
            }
            case Op::kStatus:
            case Op::kTopology:
            case Op::kThawAll:
                break;
            case Op::kProbe: {
                auto a = parse_probe(j);
                if (!a) {
                    out.message = a.error();
                    return out;
                }
                m.args = std::move(*a);
                break;
            }
        }
        out.message = std::move(m);
    } catch (const std::bad_alloc&) {
        out.message = Error(Errc::kBusy, "message: out of memory while parsing");
    } catch (const std::exception& e) {
        out.message =
            Error(Errc::kInternal, fmt::format("message: unexpected parser failure: {}", e.what()));
    }
    return out;
}

nlohmann::json ok_reply(std::optional<int64_t> id) {
    json j = {{"v", kProtocolVersion}, {"id", nullptr}, {"ok", true}};
    if (id) j["id"] = *id;
    return j;
}

nlohmann::json error_reply(std::optional<int64_t> id, const Error& error) {
    json j = ok_reply(id);
    j["ok"] = false;
    j["error"] = {{"code", errc_name(error.code())}, {"message", error.message()}};
    return j;
}

std::string serialize(const nlohmann::json& j) {
    constexpr auto kReplace = json::error_handler_t::replace;
    std::string s;
    if (!j.is_object()) {
        s = j.dump(-1, ' ', false, kReplace);
        s += '\n';
        return s;
    }
    // "v", "id", "ok" first (then the rest in key order): a reader can route a
    // reply by its prefix alone, and a human sees what it answers first.
    s.reserve(256);
    s += '{';
    bool first = true;
    auto emit = [&](const std::string& key, const json& value) {
        if (!first) s += ',';
        first = false;
        bool plain = !key.empty();
        for (char c : key)
            plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
        if (plain) {
            s += '"';
            s += key;
            s += '"';
        } else {
            s += json(key).dump(-1, ' ', false, kReplace);
        }
        s += ':';
        s += value.dump(-1, ' ', false, kReplace);
    };
    static const std::string kHead[] = {"v", "id", "ok"};
    for (const auto& k : kHead)
        if (auto it = j.find(k); it != j.end()) emit(k, *it);
    for (auto it = j.begin(); it != j.end(); ++it)
        if (it.key() != "v" && it.key() != "id" && it.key() != "ok") emit(it.key(), it.value());
    s += "}\n";
    return s;
}

}  // namespace vtasos::daemon
