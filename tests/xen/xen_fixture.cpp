// Nested-Xen fixture: dom0 initramfs (reusing vtasos_image's closure and cpio writer),
// QEMU command line, boot with bounded time, serial parsing.
#include "xen_fixture.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "vtasos/image/image.h"

namespace vtasos::xenfix {
namespace fs = std::filesystem;
using image::CpioEntry;

namespace {
Result<std::string> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Errc::kNotFound, fmt::format("{}: cannot open", path));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Adds every parent directory of `path` (no leading '/') once, parents first.
void add_dirs(const std::string& path, std::set<std::string>& dirs,
              std::vector<CpioEntry>& entries) {
    for (size_t pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1)) {
        std::string d = path.substr(0, pos);
        if (!d.empty() && dirs.insert(d).second) entries.push_back({d, S_IFDIR | 0755, {}});
    }
}

class ArchiveBuilder {
public:
    Status add_file(const std::string& host, std::string guest, uint32_t perm = 0755) {
        if (!guest.empty() && guest[0] == '/') guest.erase(0, 1);
        if (!files_.insert(guest).second) return {};
        auto data = slurp(host);
        if (!data) return data.error();
        add_dirs(guest, dirs_, entries_);
        entries_.push_back({guest, S_IFREG | perm, std::move(*data)});
        return {};
    }
    void add_text(std::string guest, std::string text, uint32_t perm = 0644) {
        if (!files_.insert(guest).second) return;
        add_dirs(guest, dirs_, entries_);
        entries_.push_back({std::move(guest), S_IFREG | perm, std::move(text)});
    }
    void add_link(std::string guest, std::string target) {
        if (!files_.insert(guest).second) return;
        add_dirs(guest, dirs_, entries_);
        entries_.push_back({std::move(guest), S_IFLNK | 0777, std::move(target)});
    }
    // The program's shared-library closure (loader included) at its host paths.
    Status add_closure(const std::string& elf) {
        auto info = image::read_elf(elf);
        if (!info) return info.error();
        if (info->interpreter.empty() && info->needed == 0) return {};
        auto libs = image::library_closure(elf);
        if (!libs) return libs.error().with_context(fmt::format("closure of {}", elf));
        for (auto& lib : *libs) {
            std::error_code ec;
            auto real = fs::canonical(lib, ec);
            if (auto st = add_file(ec ? lib : real.string(), lib); !st) return st;
        }
        return {};
    }
    std::vector<CpioEntry>& entries() { return entries_; }
    int files() const { return static_cast<int>(files_.size()); }

private:
    std::vector<CpioEntry> entries_;
    std::set<std::string> dirs_, files_;
};
// `strip --strip-debug` into a file next to `near`; empty when strip is absent or fails.
std::string stripped_copy(const std::string& path, const std::string& near) {
    auto strip = image::find_program("strip");
    if (!strip) return {};
    std::string out = near + ".strip-" + fs::path(path).filename().string();
    pid_t pid = ::fork();
    if (pid == 0) {
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::execl(strip->c_str(), "strip", "--strip-debug", "-o", out.c_str(), path.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        ::unlink(out.c_str());
        return {};
    }
    return out;
}
}  // namespace

const std::vector<std::string>& xen_tools() {
    static const std::vector<std::string> tools = {"xenstored", "xl", "xen-init-dom0",
                                                   "xenconsoled"};
    return tools;
}
const std::vector<std::string>& xen_modules() {
    // evtchn and gntdev for the toolstack, privcmd for hypercalls, xenfs (needs privcmd)
    // for /proc/xen: without it xenstored cannot find dom0's port.
    static const std::vector<std::string> mods = {
        "xen-evtchn.ko", "xen-gntdev.ko", "xen-gntalloc.ko", "xen-privcmd.ko", "xenfs/xenfs.ko"};
    return mods;
}

Result<Dom0Report> build_dom0_initramfs(const Dom0Options& opt) {
    ArchiveBuilder ar;
    Dom0Report rep;
    if (opt.shape.sockets <= 0 || opt.shape.cores <= 0 || opt.shape.nodes <= 0 ||
        opt.shape.sockets % opt.shape.nodes != 0)
        return make_error(Errc::kInvalidArgument,
                          fmt::format("shape: {} sockets do not split into {} nodes",
                                      opt.shape.sockets, opt.shape.nodes));
    auto bb = image::read_elf(opt.busybox);
    if (!bb) return bb.error().with_context("busybox (apt-get install busybox-static)");
    if (!bb->interpreter.empty())
        return make_error(Errc::kInvalidArgument,
                          fmt::format("{}: dynamically linked; the dom0 init needs the static "
                                      "busybox (apt-get install busybox-static)",
                                      opt.busybox));
    if (auto st = ar.add_file(opt.busybox, "bin/busybox"); !st) return st.error();
    ar.add_link("bin/sh", "busybox");
    auto init = slurp(opt.init_script);
    if (!init) return init.error().with_context("dom0 init script");
    ar.add_text("init", std::move(*init), 0755);

    for (auto& t : xen_tools()) {
        std::string p = opt.xen_bin_dir + "/" + t;
        if (!fs::exists(p))
            return make_error(Errc::kNotFound,
                              fmt::format("{}: missing (apt-get install xen-utils-4.17)", p));
        if (auto st = ar.add_file(p, p); !st) return st.error();
        if (auto st = ar.add_closure(p); !st) return st.error();
    }
    if (!fs::exists(opt.xenstore_tool))
        return make_error(Errc::kNotFound, fmt::format("{}: missing (apt-get install "
                                                       "xenstore-utils)",
                                                       opt.xenstore_tool));
    if (auto st = ar.add_file(opt.xenstore_tool, opt.xenstore_tool); !st) return st.error();
    if (auto st = ar.add_closure(opt.xenstore_tool); !st) return st.error();
    for (const char* op : {"read", "write", "ls", "rm", "list", "exists", "chmod", "watch"})
        ar.add_link(fmt::format("usr/bin/xenstore-{}", op), "xenstore");
    // glibc dlopens libgcc_s for pthread_cancel; xl aborts without it.
    for (const char* g :
         {"/lib/x86_64-linux-gnu/libgcc_s.so.1", "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"})
        if (fs::exists(g)) {
            if (auto st = ar.add_file(g, g); !st) return st.error();
            break;
        }

    std::string moddir =
        fmt::format("{}/{}/kernel/drivers/xen", opt.modules_root, opt.kernel_version);
    for (auto& m : xen_modules()) {
        std::string p = moddir + "/" + m;
        if (!fs::exists(p))
            return make_error(Errc::kNotFound,
                              fmt::format("{}: missing module (linux-image-{} installed?)", p,
                                          opt.kernel_version));
        if (auto st = ar.add_file(p, "vtasos/modules/" + fs::path(m).filename().string(), 0644);
            !st)
            return st.error();
    }

    for (auto& [name, path] : opt.programs) {
        // RelWithDebInfo binaries are mostly DWARF (vtasosd: 35 MB); dom0's rootfs lives in RAM.
        std::string copy = stripped_copy(path, opt.out);
        auto st = ar.add_file(copy.empty() ? path : copy, "vtasos/bin/" + name);
        if (!copy.empty()) ::unlink(copy.c_str());
        if (!st) return st.error().with_context(name);
        if (auto st = ar.add_closure(path); !st) return st.error();
        rep.programs.push_back(name);
    }
    if (!opt.domu_kernel.empty()) {
        if (auto st = ar.add_file(opt.domu_kernel, "vtasos/domu/vmlinuz", 0644); !st)
            return st.error().with_context("domU kernel");
    }
    if (!opt.domu_initrd.empty()) {
        if (auto st = ar.add_file(opt.domu_initrd, "vtasos/domu/initrd.img", 0644); !st)
            return st.error().with_context("domU initramfs");
    }
    for (auto& [guest, text] : opt.extra_text) ar.add_text(guest, text);
    ar.add_text("vtasos/expect", fmt::format("EXPECT_CPUS={}\nEXPECT_SOCKETS={}\nEXPECT_CORES={}\n"
                                             "EXPECT_NODES={}\nBENCH_COUNT={}\n",
                                             opt.shape.cpus(), opt.shape.sockets, opt.shape.cores,
                                             opt.shape.nodes, opt.bench_count));
    std::string archive = image::write_cpio(ar.entries());
    std::ofstream out(opt.out, std::ios::binary | std::ios::trunc);
    out.write(archive.data(), static_cast<std::streamsize>(archive.size()));
    if (!out.flush())
        return make_error(Errc::kIo, fmt::format("{}: cannot write the initramfs", opt.out));
    rep.bytes = archive.size();
    rep.files = ar.files();
    return rep;
}

std::vector<std::string> qemu_xen_argv(const BootOptions& opt) {
    const Shape& s = opt.shape;
    std::vector<std::string> a = {
        opt.qemu, "-accel", "tcg,thread=multi",
        // `-cpu max` crashes the PV dom0 early; qemu64 boots (recipe).
        "-cpu", "qemu64", "-m", std::to_string(s.memory_mb), "-smp",
        fmt::format("{},sockets={},cores={},threads=1", s.cpus(), s.sockets, s.cores)};
    int per_node_cpus = s.cpus() / s.nodes;
    int per_node_mb = s.memory_mb / s.nodes;
    for (int n = 0; n < s.nodes; ++n) {
        a.push_back("-object");
        a.push_back(fmt::format("memory-backend-ram,id=m{},size={}M", n, per_node_mb));
        a.push_back("-numa");
        a.push_back(fmt::format("node,nodeid={},cpus={}-{},memdev=m{}", n, n * per_node_cpus,
                                (n + 1) * per_node_cpus - 1, n));
    }
    // bootscrub=false: scrubbing all RAM under emulation costs seconds for nothing.
    a.insert(a.end(),
             {"-kernel", opt.xen, "-append",
              fmt::format("console=com1 com1=115200,8n1 dom0_mem={0}M,max:{0}M "
                          "dom0_max_vcpus={1} bootscrub=false noreboot",
                          opt.dom0_mb, opt.dom0_vcpus),
              // Multiboot modules: "file args,file"; a comma in args would split them.
              "-initrd", fmt::format("{} console=hvc0 quiet,{}", opt.dom0_kernel, opt.initramfs),
              "-display", "none", "-nodefaults", "-no-reboot", "-monitor", "none", "-serial",
              "file:" + opt.serial_log});
    return a;
}

Status extract_xen(const std::string& xen_gz, const std::string& out) {
    gzFile in = gzopen(xen_gz.c_str(), "rb");
    if (!in)
        return make_error(Errc::kNotFound, fmt::format("{}: cannot open (apt-get install "
                                                       "xen-hypervisor-4.17-amd64)",
                                                       xen_gz));
    std::string data;
    char buf[1 << 16];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0) data.append(buf, n);
    bool bad = n < 0;
    gzclose(in);
    if (bad || data.size() < 4 ||
        data.compare(0, 4,
                     "\x7f"
                     "ELF") != 0)
        return make_error(Errc::kIo, fmt::format("{}: not a gzipped ELF hypervisor", xen_gz));
    std::ofstream o(out, std::ios::binary | std::ios::trunc);
    o.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!o.flush()) return make_error(Errc::kIo, fmt::format("{}: cannot write", out));
    return {};
}

std::string kernel_version(const std::string& vmlinuz) {
    std::string n = fs::path(vmlinuz).filename().string();
    const std::string prefix = "vmlinuz-";
    return n.rfind(prefix, 0) == 0 ? n.substr(prefix.size()) : std::string();
}

Result<std::string> find_xen_gz() {
    std::string best;
    std::error_code ec;
    for (auto& e : fs::directory_iterator("/boot", ec)) {
        auto n = e.path().filename().string();
        if (n.rfind("xen-", 0) == 0 && n.size() > 3 && n.substr(n.size() - 3) == ".gz" &&
            e.path().string() > best)
            best = e.path().string();
    }
    if (best.empty())
        return make_error(Errc::kNotFound,
                          "no /boot/xen-*.gz: install xen-hypervisor-4.17-amd64 (Debian)");
    return best;
}

const CheckLine* SerialReport::find(const std::string& name) const {
    for (auto& c : checks)
        if (c.name == name) return &c;
    return nullptr;
}

SerialReport parse_serial(const std::string& serial) {
    SerialReport r;
    std::istringstream in(serial);
    std::string line;
    while (std::getline(in, line)) {
        line.erase(std::remove(line.begin(), line.end(), '\r'), line.end());
        if (line.find("Panic on CPU") != std::string::npos ||
            line.find("FATAL TRAP") != std::string::npos)
            r.panic = true;
        // Xen or kernel text may precede ours on the same line when outputs interleave.
        auto at = [&](const char* tag) -> std::optional<std::string> {
            auto p = line.find(tag);
            if (p == std::string::npos) return std::nullopt;
            return line.substr(p + std::string_view(tag).size());
        };
        if (auto rest = at("VTASOS-XEN-CHECK ")) {
            std::istringstream ls(*rest);
            CheckLine c;
            ls >> c.name >> c.verdict;
            std::getline(ls, c.detail);
            if (!c.detail.empty() && c.detail[0] == ' ') c.detail.erase(0, 1);
            if (c.verdict == "PASS" || c.verdict == "FAIL" || c.verdict == "SKIP")
                r.checks.push_back(std::move(c));
        } else if (auto rest = at("VTASOS-XEN-INFO ")) {
            r.info.push_back(*rest);
        } else if (at("VTASOS-XEN-INIT ")) {
            r.init_seen = true;
        } else if (at("VTASOS-XEN-DONE")) {
            r.done = true;
        }
    }
    return r;
}

Result<BootResult> boot_nested_xen(const BootOptions& opt) {
    auto qemu = image::find_program(opt.qemu);
    if (!qemu) return qemu.error();
    for (auto* f : {&opt.xen, &opt.dom0_kernel, &opt.initramfs})
        if (!fs::exists(*f)) return make_error(Errc::kNotFound, fmt::format("{}: missing", *f));
    BootOptions o = opt;
    o.qemu = *qemu;
    auto argv = qemu_xen_argv(o);
    ::unlink(opt.serial_log.c_str());

    auto t0 = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid < 0) return make_error(Errc::kIo, "fork for QEMU failed");
    if (pid == 0) {
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);  // the console goes to the serial log; QEMU warnings to stderr
        std::vector<char*> args;
        for (auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    auto kill_group = [&] {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
    };

    BootResult res;
    auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    double done_at = -1;
    int status = 0;
    bool exited = false;
    while (true) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            break;
        }
        auto text = slurp(opt.serial_log);
        if (text) {
            res.serial = std::move(*text);
            res.report = parse_serial(res.serial);
            if (res.report.init_seen && res.seconds_to_init < 0) res.seconds_to_init = elapsed();
            if (res.report.done && done_at < 0) done_at = elapsed();
        }
        // dom0 powers off after DONE (ACPI S5 ends QEMU); a Xen panic may hang QEMU.
        if (res.report.panic || (done_at >= 0 && elapsed() - done_at > 20)) break;
        if (opt.init_timeout_s > 0 && !res.report.init_seen && elapsed() > opt.init_timeout_s) {
            res.init_timed_out = true;
            break;
        }
        if (elapsed() > opt.timeout_s) {
            res.timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    kill_group();
    if (!exited) ::waitpid(pid, &status, 0);
    if (auto text = slurp(opt.serial_log)) {
        res.serial = std::move(*text);
        res.report = parse_serial(res.serial);
    }
    res.seconds_total = elapsed();
    return res;
}

}  // namespace vtasos::xenfix
