// vtasosctl: command-line client of vtasosd, plus a daemon-less dry run of
// the placement solver. Every daemon error is printed as "code: message" and
// makes the command exit non-zero; `run` passes its command's exit code through.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cmd_probe.h"
#include "cmd_vm.h"
#include "cmd_xen.h"
#include "vtasos/client.hpp"
#include "vtasos/core/json_fields.h"
#include "vtasos/core/placement.h"
#include "vtasos/core/request.h"
#include "vtasos/solver/solver.h"
#include "vtasos/topology/load.h"

namespace {

using nlohmann::json;

// Exit codes of vtasosctl itself (a `run` command's own code passes through).
constexpr int kExitError = 1;        // daemon refused, bad input
constexpr int kExitRunFailed = 125;  // `run` could not start or place the command
constexpr int kExitNotExec = 126;    // command found but not executable
constexpr int kExitNotFound = 127;   // command not found

int report(const vtasos::Error& e, int code = kExitError) {
    std::fprintf(stderr, "vtasosctl: %s\n", e.to_string().c_str());
    return code;
}

vtasos::Result<json> read_json_file(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        return vtasos::Error(vtasos::Errc::kNotFound,
                             fmt::format("{}: {}", path, std::strerror(errno)));
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        return json::parse(ss.str());
    } catch (const json::exception& e) {
        return vtasos::Error(vtasos::Errc::kInvalidArgument,
                             fmt::format("{}: invalid JSON: {}", path, e.what()));
    }
}

struct Global {
    std::string socket;
    int timeout_ms = 5000;
};

vtasos::Result<vtasos::Client> connect(const Global& g) {
    return vtasos::Client::connect(g.socket, g.timeout_ms);
}

// --- request options shared by `run` and `register` -------------------------

struct RequestOptions {
    int cpus = 0;
    std::string coexist;
    std::string bandwidth;
    bool gang = false;
    std::string profile;
    std::string request_file;
    bool detached = false;
    std::string tenant;

    void add_to(CLI::App* app, bool with_file, bool with_detached) {
        app->add_option("--cpus", cpus, "number of CPUs (default: from the profile, else 1)")
            ->check(CLI::Range(1, vtasos::kMaxCpusPerRequest));
        app->add_option("--coexist", coexist, "what each CPU may share: pu|core|socket|node|none")
            ->check(CLI::IsMember({"pu", "core", "socket", "node", "none"}));
        app->add_option("--bandwidth", bandwidth, "memory bandwidth demand: low|high|unknown|GBPS");
        app->add_flag("--gang", gang, "ask for gang scheduling");
        app->add_option("--profile", profile, "use this application profile");
        if (with_file) app->add_option("--request", request_file, "request JSON file");
        app->add_option("--tenant", tenant, "tenant id (default: command name and pid)");
        if (with_detached)
            app->add_flag(
                "--detached", detached,
                "keep the tenant after vtasosctl exits (until its processes exit or release)");
    }

    // Register fields: "request" object, or "profile" (+cpus), or just "cpus".
    vtasos::Result<json> fields(const std::string& tenant_id) const {
        bool explicit_req = !coexist.empty() || !bandwidth.empty() || gang;
        if (!profile.empty() && (explicit_req || !request_file.empty()))
            return vtasos::Error(
                vtasos::Errc::kInvalidArgument,
                "--profile cannot be combined with --coexist, --bandwidth, --gang or --request");
        json f = json::object();
        if (!request_file.empty()) {
            auto j = read_json_file(request_file);
            if (!j) return j.error();
            if (!j->is_object())
                return vtasos::Error(vtasos::Errc::kInvalidArgument,
                                     request_file + ": expected a request object");
            json r = *j;
            if (!r.contains("tenant")) r["tenant"] = tenant_id;
            if (cpus > 0) r["cpus"] = cpus;
            if (!coexist.empty()) r["coexist"] = coexist;
            if (gang) r["sched"]["gang"] = true;
            if (!bandwidth.empty()) r["bandwidth"] = bandwidth_json();
            f["request"] = r;
        } else if (explicit_req) {
            json r = {{"tenant", tenant_id}, {"cpus", cpus > 0 ? cpus : 1}};
            if (!coexist.empty()) r["coexist"] = coexist;
            if (!bandwidth.empty()) r["bandwidth"] = bandwidth_json();
            if (gang) r["sched"] = {{"gang", true}};
            f["request"] = r;
        } else {
            if (!profile.empty()) f["profile"] = profile;
            if (cpus > 0) f["cpus"] = cpus;
        }
        return f;
    }

    json bandwidth_json() const {
        char* end = nullptr;
        double g = std::strtod(bandwidth.c_str(), &end);
        if (end && *end == '\0' && end != bandwidth.c_str()) return json{{"gbps", g}};
        return bandwidth;  // class name; the daemon validates it
    }
};

std::string sanitize_id(std::string s) {
    for (char& c : s)
        if (!vtasos::json::is_valid_id(std::string_view(&c, 1))) c = '_';
    if (s.size() > 48) s.resize(48);
    if (s.empty() || s == "." || s == "..") s = "tenant";
    return s;
}

std::string basename_of(const std::string& p) {
    auto slash = p.rfind('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

void print_placement(const json& reply, bool verbose, FILE* out) {
    auto p = vtasos::Placement::from_json(reply.value("placement", json::object()));
    if (!p) return;
    std::fprintf(out, "tenant %s placed on PUs %s (%s)\n", p->tenant.c_str(),
                 vtasos::format_cpulist(p->all_pus()).c_str(), reply.value("source", "").c_str());
    if (verbose)
        for (const auto& t : p->trace) std::fprintf(out, "  why: %s\n", t.c_str());
}

// --- run: signal forwarding --------------------------------------------------

volatile sig_atomic_t g_child = 0;

void forward_signal(int sig, siginfo_t* info, void*) {
    // Signals from the terminal (si_code SI_KERNEL) reach the child through the
    // process group already; forward only those sent to vtasosctl itself.
    if (g_child > 0 && info && info->si_code <= 0) ::kill(static_cast<pid_t>(g_child), sig);
}

void install_forwarding() {
    struct sigaction sa {};
    sa.sa_sigaction = forward_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT})
        ::sigaction(s, &sa, nullptr);
}

int cmd_run(const Global& g, const RequestOptions& ro, std::vector<std::string> command,
            bool verbose) {
    if (command.empty())
        return report(vtasos::Error(vtasos::Errc::kInvalidArgument,
                                    "run: no command given (use -- CMD ARGS)"),
                      kExitRunFailed);
    auto client = connect(g);
    if (!client) return report(client.error(), kExitRunFailed);
    std::string tenant =
        ro.tenant.empty() ? sanitize_id(basename_of(command[0])) + "-" + std::to_string(::getpid())
                          : ro.tenant;
    auto fields = ro.fields(tenant);
    if (!fields) return report(fields.error(), kExitRunFailed);

    // The command's OMPT tool (libvtasos-ompt) joins this tenant instead of
    // registering one of its own (a process belongs to one tenant), and finds
    // the same daemon. Set before fork: the child only execs.
    ::setenv("VTASOS_TENANT", tenant.c_str(), 1);
    if (!g.socket.empty()) ::setenv("VTASOS_SOCKET", g.socket.c_str(), 1);
    int go[2];
    if (::pipe2(go, O_CLOEXEC) != 0)
        return report(
            vtasos::Error(vtasos::Errc::kIo, std::string("pipe: ") + std::strerror(errno)),
            kExitRunFailed);
    install_forwarding();
    pid_t child = ::fork();
    if (child < 0)
        return report(
            vtasos::Error(vtasos::Errc::kIo, std::string("fork: ") + std::strerror(errno)),
            kExitRunFailed);
    if (child == 0) {
        ::close(go[1]);
        char c = 0;
        ssize_t n;
        do {
            n = ::read(go[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1 || c != 'g') ::_exit(kExitRunFailed);  // registration failed
        std::vector<char*> argv;
        for (auto& s : command) argv.push_back(s.data());
        argv.push_back(nullptr);
        ::execvp(argv[0], argv.data());
        int err = errno;
        std::fprintf(stderr, "vtasosctl: cannot run %s: %s\n", argv[0], std::strerror(err));
        ::_exit(err == ENOENT ? kExitNotFound : kExitNotExec);
    }
    g_child = child;
    ::close(go[0]);
    json req = *fields;
    req["tenant"] = tenant;
    req["pids"] = {child};
    req["detached"] = ro.detached;
    auto reply = client->call("register", req);
    if (!reply) {
        ::close(go[1]);  // the child exits without running the command
        int st = 0;
        while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
        }
        return report(reply.error(), kExitRunFailed);
    }
    if (verbose) print_placement(*reply, true, stderr);
    char go_byte = 'g';
    (void)!::write(go[1], &go_byte, 1);
    ::close(go[1]);
    int st = 0;
    while (::waitpid(child, &st, 0) < 0) {
        if (errno != EINTR) break;
    }
    g_child = 0;
    // The daemon also cleans up when the process exits (pidfd); not_found is fine.
    if (auto r = client->release(tenant);
        !r && r.error().code() != vtasos::Errc::kNotFound && verbose)
        report(r.error());
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return kExitError;
}

// --- register ----------------------------------------------------------------

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

int cmd_register(const Global& g, const RequestOptions& ro, const std::vector<int>& pids,
                 bool json_out) {
    auto client = connect(g);
    if (!client) return report(client.error());
    std::string tenant = ro.tenant.empty() ? "pid-" + std::to_string(pids.front()) : ro.tenant;
    auto fields = ro.fields(tenant);
    if (!fields) return report(fields.error());
    json req = *fields;
    req["tenant"] = tenant;
    req["pids"] = pids;
    req["detached"] = ro.detached;
    auto reply = client->call("register", req);
    if (!reply) return report(reply.error());
    if (json_out)
        std::printf("%s\n", reply->dump(2).c_str());
    else
        print_placement(*reply, true, stdout);
    std::fflush(stdout);
    if (ro.detached) return 0;
    // Hold the connection (and so the tenant) until its processes exit or we are told to stop.
    ::signal(SIGINT, on_stop);
    ::signal(SIGTERM, on_stop);
    std::vector<pollfd> fds;
    for (int p : pids) {
        int fd = static_cast<int>(::syscall(SYS_pidfd_open, p, 0));
        if (fd >= 0) fds.push_back({fd, POLLIN, 0});
    }
    size_t alive = fds.size();
    while (!g_stop && alive > 0) {
        int n = ::poll(fds.data(), fds.size(), 500);
        if (n <= 0) continue;
        for (auto& f : fds)
            if (f.fd >= 0 && (f.revents & POLLIN)) {
                ::close(f.fd);
                f.fd = -1;
                --alive;
            }
    }
    for (auto& f : fds)
        if (f.fd >= 0) ::close(f.fd);
    if (auto r = client->release(tenant); !r && r.error().code() != vtasos::Errc::kNotFound)
        return report(r.error());
    return 0;
}

// --- status ------------------------------------------------------------------

std::string yesno(bool b) { return b ? "yes" : "no"; }

int cmd_status(const Global& g, bool json_out, bool verbose) {
    auto client = connect(g);
    if (!client) return report(client.error());
    auto r = client->call("status");
    if (!r) return report(r.error());
    if (json_out) {
        std::printf("%s\n", r->dump(2).c_str());
        return 0;
    }
    const json& d = (*r)["driver"];
    std::string caps;
    for (const char* c : {"cpuset", "affinity", "freeze"})
        if (d.value(c, false)) caps += std::string(caps.empty() ? "" : " ") + c;
    std::printf(
        "vtasosd %s pid %lld | driver %s (%s%s) | %s | load %.2f\n",
        r->value("version", "?").c_str(), r->value("pid", 0LL), d.value("name", "?").c_str(),
        d.value("cgroup_mode", "").empty() ? "" : (d.value("cgroup_mode", "") + ": ").c_str(),
        caps.c_str(), r->value("topology", "").c_str(), r->value("load", 0.0));
    if (!d.value("freeze", false) && !d.value("notes", "").empty())
        std::printf("note: %s\n", d.value("notes", "").c_str());
    std::vector<std::vector<std::string>> rows = {
        {"TENANT", "PIDS", "CPUS", "COEXIST", "PUS", "FROZEN", "WHY"}};
    for (const auto& t : (*r)["tenants"]) {
        std::string pids;
        for (const auto& p : t["pids"]) pids += (pids.empty() ? "" : ",") + p.dump();
        if (pids.empty()) pids = "-";
        auto req = vtasos::Request::from_json(t["request"]);
        auto pl = vtasos::Placement::from_json(t["placement"]);
        std::string co = "?", pus = "?";
        if (req) {
            co = std::string(vtasos::to_string(req->coexist.empty() ? vtasos::Coexist::kSocket
                                                                    : req->coexist.front()));
            if (std::any_of(req->coexist.begin(), req->coexist.end(),
                            [&](auto c) { return c != req->coexist.front(); }))
                co = "mixed";
            if (req->sched.gang) co += "+gang";
        }
        if (pl) pus = vtasos::format_cpulist(pl->all_pus());
        std::string why = t.value("summary", "");
        if (why.empty() && t["why"].is_array() && !t["why"].empty())
            why = t["why"].front().get<std::string>();
        if (!verbose && why.size() > 60) why = why.substr(0, 57) + "...";
        rows.push_back({t.value("tenant", "?"), pids, std::to_string(t["request"].value("cpus", 0)),
                        co, pus, yesno(t.value("frozen", false)), why});
    }
    std::vector<size_t> w(rows[0].size(), 0);
    for (const auto& row : rows)
        for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
    for (const auto& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(w[i] - row[i].size() + 2, ' ');
        }
        std::printf("%s\n", line.c_str());
    }
    if (rows.size() == 1) std::printf("(no tenants)\n");
    print_domains(*r);  // Xen domain tenants: pool, pause, per-vCPU run time
    // MPI job tenants: one line per rank with its share (docs/protocol.md "Job tenants").
    for (const auto& t : (*r)["tenants"]) {
        if (!t.contains("job") || !t["job"].is_object()) continue;
        const json& jb = t["job"];
        std::printf("\njob %s: nspace %s node %d%s, %zu of %d local ranks, %d cpus per rank\n",
                    t.value("tenant", "?").c_str(), jb.value("nspace", "?").c_str(),
                    jb.value("node", -1),
                    jb.value("host", "").empty() ? "" : (" (" + jb.value("host", "") + ")").c_str(),
                    jb.value("ranks", json::array()).size(), jb.value("expected", 0),
                    jb.value("threads", 0));
        std::printf("  %-6s %-6s %-8s %s\n", "RANK", "LOCAL", "PID", "CPUS (share)");
        for (const auto& m : jb.value("ranks", json::array())) {
            auto share = vtasos::Placement::from_json(m.value("share", json::object()));
            long long rank = m.value("rank", -1LL);
            std::printf("  %-6s %-6d %-8lld %s\n", rank < 0 ? "-" : std::to_string(rank).c_str(),
                        m.value("local_rank", -1), m.value("pid", 0LL),
                        share ? vtasos::format_cpulist(share->all_pus()).c_str() : "?");
        }
    }
    for (const auto& p : r->value("pending_jobs", json::array()))
        std::printf("\njob %s: waiting, %d of %d local ranks arrived (%lld of %lld ms)%s\n",
                    p.value("tenant", "?").c_str(), p.value("arrived", 0), p.value("expected", 0),
                    p.value("waited_ms", 0LL), p.value("wait_ms", 0LL),
                    p.contains("failed") ? (", failed: " + p.value("failed", "")).c_str() : "");
    if (verbose)
        for (const auto& t : (*r)["tenants"]) {
            std::printf("\n%s: %s\n", t.value("tenant", "?").c_str(),
                        t.value("source", "").c_str());
            for (const auto& line : t["why"])
                std::printf("  why: %s\n", line.get<std::string>().c_str());
        }
    return 0;
}

// --- place (dry run) ----------------------------------------------------------

// Existing tenants: an array of {"request","placement"} objects, or `status --json` output.
vtasos::Result<std::vector<vtasos::Tenant>> read_existing(const std::string& path) {
    auto j = read_json_file(path);
    if (!j) return j.error();
    const json* arr = &*j;
    if (j->is_object() && j->contains("tenants")) arr = &(*j)["tenants"];
    if (!arr->is_array())
        return vtasos::Error(
            vtasos::Errc::kInvalidArgument,
            path + ": expected an array of {\"request\",\"placement\"} or status --json output");
    std::vector<vtasos::Tenant> out;
    for (size_t i = 0; i < arr->size(); ++i) {
        const json& e = (*arr)[i];
        if (!e.is_object() || !e.contains("request") || !e.contains("placement"))
            return vtasos::Error(
                vtasos::Errc::kInvalidArgument,
                fmt::format("{}: tenants[{}]: expected request and placement", path, i));
        auto rq = vtasos::Request::from_json(e["request"]);
        if (!rq) return rq.error().with_context(fmt::format("{}: tenants[{}]", path, i));
        auto pl = vtasos::Placement::from_json(e["placement"]);
        if (!pl) return pl.error().with_context(fmt::format("{}: tenants[{}]", path, i));
        out.push_back({std::move(*rq), std::move(*pl)});
    }
    return out;
}

int cmd_place(const std::string& spec, const std::string& request_file,
              const std::string& existing_file, std::optional<double> bw, bool json_out) {
    auto topo = vtasos::load_topology(spec, bw);
    if (!topo) return report(topo.error().with_context("--topology"));
    auto rj = read_json_file(request_file);
    if (!rj) return report(rj.error());
    auto req = vtasos::Request::from_json(*rj);
    if (!req) return report(req.error().with_context(request_file));
    std::vector<vtasos::Tenant> existing;
    if (!existing_file.empty()) {
        auto e = read_existing(existing_file);
        if (!e) return report(e.error());
        existing = std::move(*e);
    }
    vtasos::Solver solver(*topo);
    auto p = solver.place(*req, existing);
    if (!p) return report(p.error());
    if (json_out) {
        std::printf("%s\n", p->to_json().dump(2).c_str());
        return 0;
    }
    std::printf("topology:  %s\n", topo->to_string().c_str());
    std::printf("request:   %s\n", req->to_string().c_str());
    std::printf("placement: %s\n", p->to_string().c_str());
    std::string obj;
    for (double v : p->objective) obj += fmt::format("{}{:g}", obj.empty() ? "" : ", ", v);
    std::printf("objective: [%s]\n", obj.c_str());
    for (const auto& t : p->trace) std::printf("  why: %s\n", t.c_str());
    return 0;
}

// --- simple tenant ops ---------------------------------------------------------

int cmd_simple(const Global& g, const std::string& op, const std::string& tenant, bool json_out) {
    auto client = connect(g);
    if (!client) return report(client.error());
    json f = json::object();
    if (!tenant.empty()) f["tenant"] = tenant;
    auto r = client->call(op, f);
    if (!r) return report(r.error());
    if (json_out) {
        std::printf("%s\n", r->dump(2).c_str());
        return 0;
    }
    if (op == "release")
        std::printf("released %s\n", tenant.c_str());
    else if (op == "freeze")
        std::printf("froze %s\n", tenant.c_str());
    else if (op == "thaw")
        std::printf("thawed %s\n", tenant.c_str());
    else if (op == "thaw_all") {
        std::string names;
        for (const auto& n : (*r)["thawed"])
            names += (names.empty() ? "" : " ") + n.get<std::string>();
        std::printf("thawed %zu: %s\n", (*r)["thawed"].size(), names.c_str());
    } else if (op == "advice") {
        auto a = vtasos::Advice::from_json((*r)["advice"]);
        std::printf("%s: %s\n", tenant.c_str(),
                    a ? a->to_string().c_str() : (*r)["advice"].dump().c_str());
    } else {
        r->erase("v");
        r->erase("id");
        r->erase("ok");
        std::printf("%s\n", r->dump(2).c_str());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"vtasosctl: talk to vtasosd, the vtasos node daemon"};
    app.require_subcommand(1);
    Global g;
    app.add_option("--socket", g.socket,
                   "daemon socket (default: $VTASOS_SOCKET, else the standard path)");
    app.add_option("--timeout", g.timeout_ms, "reply timeout in ms")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600000));

    bool json_out = false, verbose = false;
    auto* hello = app.add_subcommand("hello", "daemon version, pid and driver capabilities");

    auto* topology =
        app.add_subcommand("topology", "the machine as a tree (NUMA > package > L3 > core > PU)");
    topology->add_flag("--json", json_out, "print JSON");
    std::string local_spec;
    topology->add_option("--spec", local_spec,
                         "load this topology locally instead of asking the daemon "
                         "(live | xml:PATH | synthetic:...)");

    auto* place = app.add_subcommand("place", "dry run of the solver (no daemon)");
    std::string place_spec, request_file, existing_file;
    std::optional<double> bw;
    place->add_option("--topology", place_spec, "live | xml:PATH | synthetic:...")->required();
    place->add_option("--request", request_file, "request JSON file")->required();
    place->add_option("--existing", existing_file,
                      "tenants already placed (array or status --json)");
    place->add_option("--package-bandwidth", bw, "GB/s per package");
    place->add_flag("--json", json_out, "print the placement as JSON");

    auto* run =
        app.add_subcommand("run", "run a command as a tenant; its exit code is passed through");
    RequestOptions run_opts;
    run_opts.add_to(run, true, false);
    run->add_flag("-v,--verbose", verbose, "print the placement to stderr");
    std::vector<std::string> command;
    auto* run_cmd = run->add_option("command", command,
                                    "command and arguments (after --); with --vm: the guest "
                                    "application's arguments");
    VmRunOptions vm_opts;
    add_vm_options(run, vm_opts);

    auto* reg = app.add_subcommand("register", "make running processes a tenant");
    RequestOptions reg_opts;
    reg_opts.add_to(reg, true, true);
    std::vector<int> pids;
    reg->add_option("--pid", pids, "process id (repeatable; required unless --domain)")
        ->check(CLI::Range(1, 4194304));
    std::string domain;
    reg->add_option("--domain", domain, "a Xen domain (name or domid) as the tenant (--driver xen)")
        ->excludes("--pid");
    reg->add_flag("--json", json_out, "print the daemon's reply as JSON");

    auto* status = app.add_subcommand("status", "tenants, placements and why");
    status->add_flag("--json", json_out, "print JSON");
    status->add_flag("-v,--verbose", verbose, "print every solver decision");

    std::string tenant;
    auto* release = app.add_subcommand("release", "release a tenant");
    release->add_option("tenant", tenant, "tenant id")->required();
    auto* freeze = app.add_subcommand("freeze", "stop every task of a tenant");
    freeze->add_option("tenant", tenant, "tenant id")->required();
    auto* thaw = app.add_subcommand("thaw", "resume a frozen tenant");
    thaw->add_option("tenant", tenant, "tenant id")->required();
    auto* advice = app.add_subcommand("advice", "load feedback for a tenant");
    advice->add_option("tenant", tenant, "tenant id")->required();
    advice->add_flag("--json", json_out, "print JSON");
    auto* thaw_all = app.add_subcommand("thaw-all", "resume every tenant");
    ProbeCommand probe_cmd;
    add_probe_command(app, probe_cmd);

    CLI11_PARSE(app, argc, argv);
    if (*probe_cmd.sub) return run_probe_command(g.socket, g.timeout_ms, probe_cmd);
    if (*hello) return cmd_simple(g, "hello", "", true);
    if (*topology) {
        if (!local_spec.empty()) {
            auto t = vtasos::load_topology(local_spec);
            if (!t) return report(t.error());
            if (json_out)
                std::printf("%s\n", t->to_json().dump(2).c_str());
            else
                std::printf("%s", t->to_tree_string().c_str());
            return 0;
        }
        auto client = connect(g);
        if (!client) return report(client.error());
        auto r = client->call("topology");
        if (!r) return report(r.error());
        if (json_out)
            std::printf("%s\n", (*r)["topology"].dump(2).c_str());
        else
            std::printf("%s", (*r).value("tree", "").c_str());
        return 0;
    }
    if (*place) return cmd_place(place_spec, request_file, existing_file, bw, json_out);
    if (*run && !vm_opts.image.empty()) {
        std::string t = run_opts.tenant.empty() ? "vm-" + sanitize_id(basename_of(vm_opts.image)) +
                                                      "-" + std::to_string(::getpid())
                                                : run_opts.tenant;
        auto f = run_opts.fields(t);
        if (!f) return report(f.error(), kExitRunFailed);
        return run_vm_command(g.socket, g.timeout_ms, *f, t, vm_opts, command, run_cmd->count() > 0,
                              verbose);
    }
    if (*run) return cmd_run(g, run_opts, command, verbose);
    if (*reg && !domain.empty()) {
        std::string t = reg_opts.tenant.empty() ? "xen-" + domain : reg_opts.tenant;
        auto f = reg_opts.fields(t);
        if (!f) return report(f.error());
        return run_register_domain(g.socket, g.timeout_ms, t, domain, *f, json_out);
    }
    if (*reg && pids.empty())
        return report(vtasos::Error(vtasos::Errc::kInvalidArgument,
                                    "register: --pid (or --domain for a Xen domain) is required"));
    if (*reg) return cmd_register(g, reg_opts, pids, json_out);
    if (*status) return cmd_status(g, json_out, verbose);
    if (*release) return cmd_simple(g, "release", tenant, false);
    if (*freeze) return cmd_simple(g, "freeze", tenant, false);
    if (*thaw) return cmd_simple(g, "thaw", tenant, false);
    if (*advice) return cmd_simple(g, "advice", tenant, json_out);
    if (*thaw_all) return cmd_simple(g, "thaw_all", "", false);
    return kExitError;
}
