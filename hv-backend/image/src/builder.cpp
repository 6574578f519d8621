// ELF inspection, library closure, newc cpio and the image builder.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "internal.h"
#include "vtasos/image/image.h"

namespace vtasos::image {
namespace fs = std::filesystem;
using internal::read_file;

namespace {
constexpr uint16_t kEmX86_64 = 62;
constexpr const char* kDefaultLoader = "/lib64/ld-linux-x86-64.so.2";

template <typename T>
T load(const std::string& b, size_t off) {
    T v{};
    if (off + sizeof(T) <= b.size()) std::memcpy(&v, b.data() + off, sizeof(T));
    return v;
}
std::string trim(std::string s) {
    size_t a = s.find_first_not_of(" \t\r\n");
    size_t e = s.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? "" : s.substr(a, e - a + 1);
}
std::string join_nul(const std::vector<std::string>& words) {
    std::string s;
    for (auto& w : words) {
        s += w;
        s.push_back('\0');
    }
    return s;
}
}  // namespace

Result<ElfInfo> read_elf(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        return make_error(Errc::kNotFound, fmt::format("{}: no such file", path));
    if (!S_ISREG(st.st_mode))
        return make_error(Errc::kInvalidArgument, fmt::format("{}: not a regular file", path));
    auto data = read_file(path);
    if (!data) return data.error();
    const std::string& b = *data;
    if (b.size() < 64 || b.compare(0, 4,
                                   "\x7f"
                                   "ELF") != 0)
        return make_error(Errc::kInvalidArgument, fmt::format("{}: not an ELF file", path));
    ElfInfo info;
    info.is_64 = b[4] == 2;
    info.machine = load<uint16_t>(b, 18);
    if (!info.is_64 || info.machine != kEmX86_64 || b[5] != 1)
        return make_error(Errc::kInvalidArgument,
                          fmt::format("{}: ELF is not x86-64 little-endian 64-bit (class {}, "
                                      "machine {}); guests are x86-64",
                                      path, int(b[4]), info.machine));
    auto phoff = load<uint64_t>(b, 32);
    auto phentsize = load<uint16_t>(b, 54);
    auto phnum = load<uint16_t>(b, 56);
    for (uint16_t i = 0; i < phnum; ++i) {
        size_t ph = phoff + size_t(i) * phentsize;
        if (ph + 56 > b.size()) break;
        auto type = load<uint32_t>(b, ph);
        auto off = load<uint64_t>(b, ph + 8), sz = load<uint64_t>(b, ph + 32);
        if (off + sz > b.size()) continue;
        if (type == 3) info.interpreter = std::string(b.c_str() + off);  // PT_INTERP
        if (type == 2)                                                   // PT_DYNAMIC
            for (size_t d = off; d + 16 <= off + sz; d += 16) {
                auto tag = load<int64_t>(b, d);
                if (tag == 0) break;          // DT_NULL
                if (tag == 1) ++info.needed;  // DT_NEEDED
            }
    }
    return info;
}

std::vector<LddEntry> parse_ldd_output(const std::string& text) {
    std::vector<LddEntry> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty() || line.find("linux-vdso") == 0 || line.find("linux-gate") == 0 ||
            line.find("statically linked") != std::string::npos ||
            line.find("not a dynamic executable") != std::string::npos)
            continue;
        size_t paren = line.rfind(" (0x");
        if (paren != std::string::npos) line = trim(line.substr(0, paren));
        size_t arrow = line.find(" => ");
        if (arrow == std::string::npos) {
            if (line.front() == '/') out.push_back({line, line});  // the loader itself
            continue;
        }
        LddEntry e{trim(line.substr(0, arrow)), trim(line.substr(arrow + 4))};
        if (e.path == "not found") e.path.clear();
        out.push_back(e);
    }
    return out;
}

Result<std::vector<std::string>> library_closure(const std::string& elf_path) {
    auto elf = read_elf(elf_path);
    if (!elf) return elf.error();
    bool is_lib = elf->interpreter.empty();
    std::string loader = is_lib ? kDefaultLoader : elf->interpreter;
    // A static (or static-pie) executable has no closure; never hand it to the loader.
    if (is_lib && elf->needed == 0) return std::vector<std::string>{};
    if (access(loader.c_str(), X_OK) != 0)
        return make_error(
            Errc::kNotFound,
            fmt::format("{}: dynamic loader {} not found on this host", elf_path, loader));
    // What ldd does: the loader in trace mode lists every dependency, "not found" included
    // (`ld.so --list` stops at the first missing one).
    auto cap = internal::run_capture({loader, elf_path}, {}, {"LD_TRACE_LOADED_OBJECTS=1"});
    if (!cap) return cap.error().with_context("ld.so trace");
    auto entries = parse_ldd_output(cap->out + "\n" + cap->err);
    std::vector<std::string> missing, paths;
    for (auto& e : entries) {
        if (e.path.empty()) {
            missing.push_back(e.soname);
        } else if (std::find(paths.begin(), paths.end(), e.path) == paths.end()) {
            paths.push_back(e.path);
        }
    }
    if (!missing.empty()) {
        std::string list;
        for (auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        return make_error(Errc::kNotFound,
                          fmt::format("{}: missing shared librar{} on this host: {} (install "
                                      "it or add its directory to LD_LIBRARY_PATH)",
                                      elf_path, missing.size() > 1 ? "ies" : "y", list));
    }
    if (!is_lib && std::find(paths.begin(), paths.end(), loader) == paths.end())
        paths.push_back(loader);
    if (!WIFEXITED(cap->status) || WEXITSTATUS(cap->status) != 0)
        return make_error(Errc::kInvalidArgument,
                          fmt::format("{}: listing shared libraries with {} failed: {}", elf_path,
                                      loader, trim(cap->err)));
    return paths;
}

std::string write_cpio(const std::vector<CpioEntry>& entries) {
    std::string out;
    auto pad4 = [&out] {
        while (out.size() % 4) out.push_back('\0');
    };
    uint32_t ino = 1;
    auto record = [&](const std::string& name, uint32_t mode, const std::string& data) {
        out += fmt::format(
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}"
            "{:08X}{:08X}{:08X}",
            mode ? ino++ : 0, mode, 0, 0, (mode & S_IFMT) == S_IFDIR ? 2 : 1, 0, data.size(), 0, 0,
            0, 0, name.size() + 1, 0);
        out += name;
        out.push_back('\0');
        pad4();
        out += data;
        pad4();
    };
    for (auto& e : entries) record(e.path, e.mode, e.data);
    record("TRAILER!!!", 0, "");
    return out;
}

Result<std::vector<CpioEntry>> read_cpio(const std::string& a) {
    std::vector<CpioEntry> out;
    size_t pos = 0;
    auto field = [&](size_t i) { return std::stoul(a.substr(pos + 6 + i * 8, 8), nullptr, 16); };
    while (pos < a.size()) {
        if (a[pos] == '\0') {  // padding between concatenated archives
            ++pos;
            continue;
        }
        if (pos + 110 > a.size() || a.compare(pos, 6, "070701") != 0)
            return make_error(Errc::kInvalidArgument,
                              fmt::format("cpio: bad newc header at offset {}", pos));
        uint32_t mode = field(1);
        size_t size = field(6), namesize = field(11);
        size_t name_at = pos + 110;
        std::string name = a.substr(name_at, namesize ? namesize - 1 : 0);
        size_t data_at = (name_at + namesize + 3) & ~size_t(3);
        if (data_at + size > a.size())
            return make_error(Errc::kInvalidArgument, fmt::format("cpio: {} truncated", name));
        pos = (data_at + size + 3) & ~size_t(3);
        if (name == "TRAILER!!!") continue;
        out.push_back({name, mode, a.substr(data_at, size)});
    }
    return out;
}

std::string kernel_version_of(const std::string& vmlinuz) {
    std::string base = fs::path(vmlinuz).filename().string();
    return base.rfind("vmlinuz-", 0) == 0 ? base.substr(8) : base;
}

Result<std::vector<std::string>> module_closure(const std::string& version,
                                                const std::vector<std::string>& modules) {
    std::string root = "/lib/modules/" + version;
    auto dep = read_file(root + "/modules.dep");
    if (!dep)
        return make_error(Errc::kNotFound,
                          fmt::format("{}/modules.dep: not readable (install the modules of "
                                      "kernel {}: linux-image-{})",
                                      root, version, version));
    // "kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko ..."
    std::map<std::string, std::pair<std::string, std::vector<std::string>>> by_name;
    std::istringstream in(*dep);
    std::string line;
    auto name_of = [](const std::string& path) {
        std::string n = fs::path(path).filename().string();
        n = n.substr(0, n.find(".ko"));
        std::replace(n.begin(), n.end(), '-', '_');
        return n;
    };
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string path = line.substr(0, colon);
        std::istringstream deps(line.substr(colon + 1));
        std::vector<std::string> d;
        for (std::string w; deps >> w;) d.push_back(w);
        by_name[name_of(path)] = {path, d};
    }
    std::vector<std::string> order;
    std::set<std::string> seen;
    // modules.dep lists every (transitive) dependency, the deepest last: load them in reverse.
    for (const auto& m : modules) {
        auto it = by_name.find(m);
        if (it == by_name.end())
            return make_error(Errc::kNotFound,
                              fmt::format("kernel module {} not in {}/modules.dep (built in "
                                          "or missing)",
                                          m, root));
        std::vector<std::string> chain(it->second.second.rbegin(), it->second.second.rend());
        chain.push_back(it->second.first);
        for (auto& rel : chain) {
            std::string full = rel.front() == '/' ? rel : root + "/" + rel;
            if (!seen.insert(full).second) continue;
            if (access(full.c_str(), R_OK) != 0)
                return make_error(Errc::kNotFound, fmt::format("kernel module {}: {}", full,
                                                               std::strerror(errno)));
            order.push_back(full);
        }
    }
    return order;
}

Result<std::string> find_init() {
    if (const char* e = std::getenv("VTASOS_INIT"); e && *e) {
        if (access(e, R_OK) == 0) return std::string(e);
        return make_error(Errc::kNotFound, fmt::format("VTASOS_INIT={}: no such file", e));
    }
    std::error_code ec;
    auto self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto p = self.parent_path() / "vtasos-init";
        if (fs::exists(p)) return p.string();
    }
#ifdef VTASOS_INIT_PATH
    if (access(VTASOS_INIT_PATH, R_OK) == 0) return std::string(VTASOS_INIT_PATH);
#endif
    return make_error(Errc::kNotFound,
                      "vtasos-init not found (set VTASOS_INIT or pass --init; it is built "
                      "next to vtasos-image)");
}

std::string BuildReport::to_string() const {
    std::string s = fmt::format("image {}: {} bytes ({:.1f} MiB), {} entries\n", out, image_bytes,
                                image_bytes / 1048576.0, contents.size());
    for (auto& e : contents)
        s += fmt::format("  {:<4} {:>10}  /{}\n", e.kind,
                         e.kind == "dir" ? std::string("-") : std::to_string(e.size), e.path);
    return s;
}

Result<BuildReport> build_image(const BuildOptions& opt) {
    auto ctx = [&](const Error& e) { return e.with_context("vtasos-image build"); };
    if (opt.out.empty()) return ctx(make_error(Errc::kInvalidArgument, "--out: missing"));
    auto elf = read_elf(opt.app);
    if (!elf) return ctx(elf.error());
    std::string init = opt.init;
    if (init.empty()) {
        auto i = find_init();
        if (!i) return ctx(i.error());
        init = *i;
    }
    // guest path -> host path; files land where the loader looks for them.
    std::vector<std::pair<std::string, std::string>> files;
    auto add = [&files](const std::string& guest, const std::string& host) {
        for (auto& f : files)
            if (f.first == guest) return;
        files.emplace_back(guest, host);
    };
    add("init", init);
    std::string app_guest = "bin/" + fs::path(opt.app).filename().string();
    add(app_guest, opt.app);
    std::set<std::string> lib_dirs;
    auto add_closure = [&](const std::string& elf_path) -> Status {
        auto libs = library_closure(elf_path);
        if (!libs) return libs.error();
        for (auto& l : *libs) {
            add(l.substr(1), l);
            lib_dirs.insert(fs::path(l).parent_path().string());
        }
        return {};
    };
    if (auto s = add_closure(opt.app); !s) return ctx(s.error());
    std::vector<std::string> env = opt.env;
    if (opt.ompt_tool) {
        auto tool = fs::absolute(*opt.ompt_tool).lexically_normal().string();
        auto t = read_elf(tool);
        if (!t) return ctx(t.error().with_context("--with-ompt"));
        // A fixed guest path, whatever the host build tree is called.
        std::string guest = "/usr/lib/vtasos/" + fs::path(tool).filename().string();
        add(guest.substr(1), tool);
        lib_dirs.insert("/usr/lib/vtasos");
        if (auto s = add_closure(tool); !s) return ctx(s.error().with_context("--with-ompt"));
        env.push_back("OMP_TOOL_LIBRARIES=" + guest);
    }
    if (!elf->interpreter.empty()) {
        // glibc dlopens libgcc_s for pthread_cancel / unwinding: carry it when the host has it.
        for (const char* g :
             {"/lib/x86_64-linux-gnu/libgcc_s.so.1", "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"})
            if (access(g, R_OK) == 0) {
                bool have = false;
                for (auto& f : files)
                    if (fs::path(f.first).filename() == "libgcc_s.so.1") have = true;
                if (!have) add(std::string(g).substr(1), g);
                break;
            }
    }
    std::vector<std::string> module_paths;  // guest paths, loading order
    if (opt.channel) {
        std::string ver = opt.kernel_version;
        if (ver.empty()) {
            auto k = find_kernel();
            if (!k) return ctx(k.error().with_context("--channel"));
            ver = kernel_version_of(*k);
        }
        auto mods = module_closure(ver, {"virtio_pci", "virtio_console"});
        if (!mods) return ctx(mods.error().with_context("--channel"));
        for (size_t i = 0; i < mods->size(); ++i) {
            std::string g = fmt::format("vtasos/kmod/{:02}-{}", i,
                                        fs::path((*mods)[i]).filename().string());
            add(g, (*mods)[i]);
            module_paths.push_back("/" + g);
        }
        env.push_back(std::string("VTASOS_SOCKET=virtio:") + kChannelGuestPath);
    }
    for (auto& [host, guest] : opt.files) {
        if (access(host.c_str(), R_OK) != 0)
            return ctx(make_error(Errc::kNotFound, fmt::format("--file {}: no such file", host)));
        std::string g = guest.empty() ? "files/" + fs::path(host).filename().string() : guest;
        while (!g.empty() && g.front() == '/') g.erase(0, 1);
        add(g, host);
    }
    for (auto& e : env)
        if (e.find('=') == std::string::npos || e.front() == '=')
            return ctx(make_error(Errc::kInvalidArgument,
                                  fmt::format("--env '{}': expected KEY=VALUE", e)));
    if (!lib_dirs.empty()) {
        std::string p;
        for (auto& d : lib_dirs) p += (p.empty() ? "" : ":") + d;
        env.insert(env.begin(), "LD_LIBRARY_PATH=" + p);  // no ld.so.cache in the guest
    }

    std::vector<CpioEntry> entries;
    std::set<std::string> dirs{"vtasos", "proc", "sys", "dev", "tmp"};
    for (auto& f : files)
        for (auto p = fs::path(f.first).parent_path(); !p.empty(); p = p.parent_path())
            dirs.insert(p.string());
    for (auto& d : dirs) entries.push_back({d, S_IFDIR | 0755, ""});
    BuildReport rep;
    rep.out = opt.out;
    for (auto& d : dirs) rep.contents.push_back({d, 0, "dir"});
    for (auto& [guest, host] : files) {
        auto data = read_file(host);
        if (!data) return ctx(data.error());
        rep.contents.push_back({guest, data->size(), "file"});
        entries.push_back({guest, S_IFREG | 0755, std::move(*data)});
    }
    auto meta = [&](const std::string& path, std::string data) {
        rep.contents.push_back({path, data.size(), "file"});
        entries.push_back({path, S_IFREG | 0644, std::move(data)});
    };
    meta("vtasos/app", "/" + app_guest);
    meta("vtasos/args", join_nul(opt.args));
    meta("vtasos/env", join_nul(env));
    if (!module_paths.empty()) meta("vtasos/modules", join_nul(module_paths));
    std::string archive = write_cpio(entries);
    if (opt.gzip) {
        auto gz = find_program("gzip");
        if (!gz)
            return ctx(make_error(Errc::kUnavailable, "--gzip: the gzip tool is not installed"));
        auto c = internal::run_capture({*gz, "-9", "-n", "-c"}, archive);
        if (!c || !WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0)
            return ctx(make_error(Errc::kIo, "gzip failed"));
        archive = std::move(c->out);
    }
    if (auto s = internal::write_file(opt.out, archive); !s) return ctx(s.error());
    rep.image_bytes = archive.size();
    return rep;
}

}  // namespace vtasos::image
