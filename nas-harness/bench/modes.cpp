#include "modes.h"

#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <thread>

#include "bench_config.h"
#include "guest_mode.h"
#include "util.h"

namespace vtasos::bench {
namespace fs = std::filesystem;

namespace {
constexpr std::array<std::pair<Mode, std::string_view>, 6> kModes{{
    {Mode::kNative, "native"},
    {Mode::kVtasos, "vtasos"},
    {Mode::kKvm, "kvm"},
    {Mode::kKvmVtasos, "kvm-vtasos"},
    {Mode::kKvmTickless, "kvm-tickless"},
    {Mode::kXen, "xen"},
}};

std::string last_lines(const std::string& text, size_t n) {
    auto lines = split_list(text, '\n');
    if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<long>(n));
    return join(lines, " / ");
}
}  // namespace

std::string_view mode_name(Mode m) {
    for (const auto& [mode, name] : kModes)
        if (mode == m) return name;
    return "native";
}

std::optional<Mode> mode_from_name(std::string_view name) {
    for (const auto& [mode, n] : kModes)
        if (n == name) return mode;
    return std::nullopt;
}

std::vector<std::string> all_mode_names() {
    std::vector<std::string> out;
    for (const auto& [mode, name] : kModes) out.emplace_back(name);
    return out;
}

// The private daemon. vtasosd forks into the background once ready unless told --foreground;
// both are handled: the foreground child is stopped directly, a backgrounded one through its
// --pid-file (only when that pid's command line names our socket).
struct Launcher::Daemon {
    std::optional<Child> child;
    fs::path dir;       // temp dir with socket and state
    fs::path pid_file;  // empty when vtasosd has no --pid-file
    std::string socket;
    ~Daemon() {
        if (child) child->stop();
        stop_backgrounded();
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
    }
    void stop_backgrounded() {
        if (pid_file.empty()) return;
        auto text = read_file(pid_file);
        if (!text) return;
        pid_t pid = static_cast<pid_t>(std::atol(std::string(trim(*text)).c_str()));
        if (pid <= 1) return;
        auto ours = [&] {
            auto cmd = read_file("/proc/" + std::to_string(pid) + "/cmdline");
            return cmd && cmd->find(socket) != std::string::npos;
        };
        if (!ours()) return;
        ::kill(pid, SIGTERM);
        for (int i = 0; i < 150 && ours(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (ours()) ::kill(pid, SIGKILL);
    }
};

Launcher::Launcher(ToolPaths paths, fs::path log_dir)
    : paths_(std::move(paths)), log_dir_(std::move(log_dir)) {}

Launcher::~Launcher() {
    std::error_code ec;
    if (!guest_dir_.empty()) fs::remove_all(guest_dir_, ec);
}

std::optional<fs::path> Launcher::ompt_lib() {
    if (!ompt_searched_) {
        ompt_searched_ = true;
        auto r = locate_tool({"libvtasos-ompt.so", ToolKind::kLibrary, "--ompt-lib",
                              paths_.ompt_lib, VTASOS_BENCH_OMPT_TARGETS});
        if (r)
            ompt_ = *r;
        else
            ompt_reason_ = r.error().message();
    }
    if (ompt_) return ompt_->path;
    return std::nullopt;
}

std::string Launcher::ompt_lib_reason() {
    ompt_lib();
    return ompt_reason_;
}

VariantStatus Launcher::prepare(Mode m) {
    VariantStatus st{std::string(mode_name(m)), false, "", ""};
    switch (m) {
        case Mode::kNative:
            st.available = true;
            st.detail = "stock Linux scheduler, OMP_TOOL_LIBRARIES unset";
            return st;
        case Mode::kVtasos: {
            if (vtasos_status_) return *vtasos_status_;
            auto d = locate_tool({"vtasosd", ToolKind::kProgram, "--vtasosd", paths_.vtasosd,
                                  VTASOS_BENCH_VTASOSD_TARGETS});
            auto c = locate_tool({"vtasosctl", ToolKind::kProgram, "--vtasosctl", paths_.vtasosctl,
                                  VTASOS_BENCH_VTASOSCTL_TARGETS});
            if (!d || !c) {
                st.reason = (!d ? d.error().message() : c.error().message()) +
                            " (the daemon/CLI issue provides it; build them or pass the flag)";
                vtasos_status_ = st;
                return st;
            }
            vtasosd_ = *d;
            vtasosctl_ = *c;
            char tmpl[] = "/tmp/vtasos-bench.XXXXXX";
            if (!::mkdtemp(tmpl)) {
                st.reason =
                    std::string("cannot create a temporary directory for the daemon socket: ") +
                    std::strerror(errno);
                vtasos_status_ = st;
                return st;
            }
            daemon_ = std::make_unique<Daemon>();
            daemon_->dir = tmpl;
            socket_ = (daemon_->dir / "vtasosd.sock").string();
            auto state = (daemon_->dir / "state.json").string();
            auto log = log_dir_ / "vtasosd.log";
            daemon_->socket = socket_;
            std::vector<std::string> argv = {vtasosd_->path.string(), "--socket", socket_,
                                             "--state", state};
            for (const auto& a : paths_.vtasosd_args) argv.push_back(a);
            // Keep the daemon our child when it can be told so; else learn its pid.
            auto help = run_process(
                {{vtasosd_->path.string(), "--help"}, {}, {}, std::chrono::seconds(10)});
            const std::string help_text = help ? help->out + help->err : std::string();
            if (help_text.find("--foreground") != std::string::npos) {
                argv.emplace_back("--foreground");
            } else if (help_text.find("--pid-file") != std::string::npos) {
                daemon_->pid_file = daemon_->dir / "vtasosd.pid";
                argv.emplace_back("--pid-file");
                argv.push_back(daemon_->pid_file.string());
            }
            auto child = Child::spawn({argv, {}, {}, {}}, log);
            if (!child) {
                st.reason = "cannot start vtasosd: " + child.error().message();
                vtasos_status_ = st;
                return st;
            }
            daemon_->child.emplace(std::move(*child));
            // Wait for the socket (10 s), watching for an early exit.
            bool up = false;
            for (int i = 0; i < 200 && !interrupt_requested(); ++i) {
                struct stat sb {};
                if (::stat(socket_.c_str(), &sb) == 0 && S_ISSOCK(sb.st_mode)) {
                    up = true;
                    break;
                }
                if (!daemon_->child->running() &&
                    !(daemon_->child->exited_ok() && !daemon_->pid_file.empty()))
                    break;  // died (a clean exit with a pid file means it went to background)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            if (!up) {
                auto logtext = read_file(log);
                std::string why =
                    daemon_->child->running()
                        ? "did not create its socket within 10 s"
                        : "exited (" + daemon_->child->exit_status() + ") at start-up";
                st.reason = fmt::format("vtasosd {} ({}): {}", why, vtasosd_->path.string(),
                                        logtext ? last_lines(*logtext, 3) : "no log");
                daemon_.reset();
                vtasos_status_ = st;
                return st;
            }
            // One round trip proves that the CLI and the daemon speak the same protocol. The
            // socket file appears at bind(), a moment before listen(): retry for up to 5 s.
            Result<ProcessOutcome> probe = make_error(Errc::kInternal, "not probed");
            for (int attempt = 0; attempt < 25 && !interrupt_requested(); ++attempt) {
                if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(200));
                probe = run_process({{vtasosctl_->path.string(), "--socket", socket_, "status"},
                                     {},
                                     {},
                                     std::chrono::seconds(15)});
                if (probe && probe->succeeded()) break;
                if (!daemon_->child->running() &&
                    !(daemon_->child->exited_ok() && !daemon_->pid_file.empty()))
                    break;
            }
            if (!probe || !probe->succeeded()) {
                st.reason =
                    "`vtasosctl --socket S status` failed against the fresh daemon: " +
                    (probe ? probe->describe() + ": " + last_lines(probe->err + probe->out, 3)
                           : probe.error().message());
                daemon_.reset();
                vtasos_status_ = st;
                return st;
            }
            st.available = true;
            auto lib = ompt_lib();
            st.detail =
                fmt::format("vtasosd {} ({}), vtasosctl {} ({}); {}", vtasosd_->path.string(),
                            vtasosd_->how, vtasosctl_->path.string(), vtasosctl_->how,
                            lib ? "OMP_TOOL_LIBRARIES=" + lib->string()
                                : "no OMPT tool (" + ompt_reason_ + ")");
            vtasos_status_ = st;
            return st;
        }
        case Mode::kKvm:
        case Mode::kKvmVtasos:
        case Mode::kKvmTickless: {
            auto img = locate_tool({"vtasos-image", ToolKind::kProgram, "--vtasos-image",
                                    paths_.vtasos_image, VTASOS_BENCH_IMAGE_TARGETS});
            if (!img) {
                st.reason = "right-weight guest builder vtasos-image not found: " +
                            img.error().message() + " (build it or pass --vtasos-image)";
                return st;
            }
            image_ = *img;
            auto qemu = run_process({{"/bin/sh", "-c", "command -v qemu-system-x86_64"},
                                     {},
                                     {},
                                     std::chrono::seconds(10)});
            if (!qemu || !qemu->succeeded()) {
                st.reason = "QEMU not installed (qemu-system-x86_64 not on PATH; apt-get install "
                            "qemu-system-x86)";
                return st;
            }
            auto accel = probe_guest_accel(img->path.string());
            if (!accel) {
                st.reason = accel.error().message();
                return st;
            }
            if (m == Mode::kKvmVtasos) {
                auto v = prepare(Mode::kVtasos);
                if (!v.available) {
                    st.reason = "needs the private vtasosd: " + v.reason;
                    return st;
                }
                if (!ompt_lib()) {
                    st.reason = "needs the OMPT tool inside the guest: " + ompt_reason_;
                    return st;
                }
            }
            if (guest_dir_.empty()) {
                char tmpl[] = "/tmp/vtasos-bench-guest.XXXXXX";
                if (!::mkdtemp(tmpl)) {
                    st.reason = std::string("cannot create the guest image cache: ") +
                                std::strerror(errno);
                    return st;
                }
                guest_dir_ = tmpl;
            }
            accel_ = accel->first;
            st.available = true;
            st.accel = accel->first;
            st.emulated = accel->first == "tcg";
            st.detail = fmt::format(
                "{}; accel {}{} ({}); images built by {} into {}{}", 
                m == Mode::kKvm           ? "guest, stock timer, unpinned"
                : m == Mode::kKvmTickless ? "guest, tickless timer, unpinned"
                                          : "guest placed and pinned by vtasosd, tickless, OMPT "
                                            "tool inside (channel)",
                accel->first, st.emulated ? ", EMULATED: not a performance result" : "",
                accel->second, img->path.string(), guest_dir_,
                m == Mode::kKvmVtasos && vtasosctl_
                    ? "; vtasosctl " + vtasosctl_->path.string() + " run --vm"
                    : "");
            return st;
        }
        case Mode::kXen: {
            auto caps = read_file("/proc/xen/capabilities");
            if (!caps || caps->find("control_d") == std::string::npos) {
                st.reason = "not a Xen host (no control_d in /proc/xen/capabilities)";
            } else {
                st.reason =
                    "Xen dom0 detected, but domU runs need vtasos-image's xl.cfg "
                    "support (not available yet)";
            }
            return st;
        }
    }
    st.reason = "unknown mode";
    return st;
}

ProcessSpec Launcher::wrap(Mode m, const Program& p, const std::vector<std::string>& extra) const {
    ProcessSpec spec;
    spec.set_env = p.env;
    if (m == Mode::kVtasos && vtasosctl_) {
        spec.argv = {vtasosctl_->path.string(), "--socket", socket_, "run", "--cpus",
                     std::to_string(p.cpus)};
        if (!p.coexist.empty()) {  // empty: a --profile in `extra` says it (corun, libgomp)
            spec.argv.emplace_back("--coexist");
            spec.argv.push_back(p.coexist);
        }
        for (const auto& e : extra) spec.argv.push_back(e);
        spec.argv.emplace_back("--");
        for (const auto& a : p.argv) spec.argv.push_back(a);
        if (ompt_)
            spec.set_env.emplace_back("OMP_TOOL_LIBRARIES", ompt_->path.string());
        else
            spec.unset_env.emplace_back("OMP_TOOL_LIBRARIES");
        spec.set_env.emplace_back("VTASOS_SOCKET", socket_);
        return spec;
    }
    if (m == Mode::kKvm || m == Mode::kKvmVtasos || m == Mode::kKvmTickless) {
        GuestPlan g;
        g.image_tool = image_ ? image_->path.string() : "vtasos-image";
        g.vtasosctl = vtasosctl_ ? vtasosctl_->path.string() : "vtasosctl";
        g.socket = socket_;
        g.ompt_lib = ompt_ ? ompt_->path.string() : "";
        g.accel = accel_.empty() ? "tcg" : accel_;
        g.cache_dir = guest_dir_.empty() ? "/tmp" : guest_dir_;
        return guest_spec(m, g, p, extra);
    }
    spec.argv = p.argv;
    bool sets_tool = false;
    for (const auto& [k, v] : p.env) sets_tool = sets_tool || k == "OMP_TOOL_LIBRARIES";
    if (!sets_tool) spec.unset_env.emplace_back("OMP_TOOL_LIBRARIES");
    return spec;
}

bool Launcher::vtasosctl_run_supports(const std::string& option) {
    if (!vtasosctl_) return false;
    auto r = run_process(
        {{vtasosctl_->path.string(), "run", "--help"}, {}, {}, std::chrono::seconds(10)});
    if (!r) return false;
    auto text = r->out + r->err;
    size_t pos = 0;
    while ((pos = text.find(option, pos)) != std::string::npos) {
        size_t end = pos + option.size();
        bool word_end =
            end >= text.size() || !(std::isalnum(static_cast<unsigned char>(text[end])) ||
                                    text[end] == '-' || text[end] == '_');
        if (word_end) return true;
        pos = end;
    }
    return false;
}

nlohmann::json Launcher::describe() const {
    auto loc = [](const std::optional<Located>& l) -> nlohmann::json {
        if (!l) return nullptr;
        return {{"path", l->path.string()}, {"found_by", l->how}};
    };
    return {{"vtasosd", loc(vtasosd_)},
            {"vtasosctl", loc(vtasosctl_)},
            {"ompt_lib", loc(ompt_)},
            {"vtasos_image", loc(image_)}};
}

}  // namespace vtasos::bench
