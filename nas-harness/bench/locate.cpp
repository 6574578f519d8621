#include "locate.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "bench_config.h"
#include "util.h"

namespace vtasos::bench {
namespace fs = std::filesystem;

namespace {

bool usable(const fs::path& p, ToolKind kind) {
    std::error_code ec;
    if (kind == ToolKind::kProgram) return is_executable(p);
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), R_OK) == 0;
}

// Depth-limited search for a file called `name` below `dir`.
std::vector<fs::path> scan(const fs::path& dir, const std::string& name, ToolKind kind) {
    std::vector<fs::path> found;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return found;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
        end;
    for (; !ec && it != end; it.increment(ec)) {
        if (it.depth() > 4) {
            it.disable_recursion_pending();
            continue;
        }
        const auto& p = it->path();
        if (p.filename() == "CMakeFiles") {
            it.disable_recursion_pending();
            continue;
        }
        if (p.filename() == name && usable(p, kind)) found.push_back(p);
    }
    std::sort(found.begin(), found.end());
    return found;
}

}  // namespace

fs::path self_dir() {
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    return exe.parent_path();
}

fs::path build_root() {
    std::error_code ec;
    auto dir = self_dir();
    if (!dir.empty()) {
        auto guess = dir.parent_path().parent_path();  // <build>/nas-harness/bin -> <build>
        if (fs::exists(guess / "CMakeCache.txt", ec)) return guess;
    }
    fs::path compiled(VTASOS_BENCH_BINARY_DIR);
    if (fs::exists(compiled / "CMakeCache.txt", ec)) return compiled;
    return {};
}

fs::path default_kernel_dir() {
    auto dir = self_dir();
    if (!dir.empty() && is_executable(dir / "ep")) return dir;
    return fs::path(VTASOS_BENCH_NPB_BIN_DIR);
}

Result<Located> locate_tool(const ToolQuery& q) {
    if (!q.explicit_path.empty()) {
        fs::path p(q.explicit_path);
        if (usable(p, q.kind)) return Located{fs::absolute(p), q.flag};
        return make_error(Errc::kNotFound,
                          q.flag + " " + q.explicit_path +
                              (q.kind == ToolKind::kProgram ? ": not an executable file"
                                                            : ": not a readable file"));
    }
    std::vector<std::string> looked;
    for (const auto& t : split_list(q.compiled_targets, ':')) {
        if (usable(t, q.kind)) return Located{t, "build target"};
        looked.push_back(t);
    }
    auto root = build_root();
    if (!root.empty()) {
        for (const char* sub : {"hv-backend", "ompt-tool", "bin", "tools"}) {
            auto hits = scan(root / sub, q.name, q.kind);
            if (!hits.empty()) return Located{hits.front(), "build tree"};
        }
        looked.push_back(root.string() + "/{hv-backend,ompt-tool,bin,tools}");
    }
    if (q.kind == ToolKind::kProgram) {
        if (auto p = find_in_path(q.name)) return Located{*p, "PATH"};
        looked.emplace_back("$PATH");
    } else {
        std::vector<std::string> dirs;
        if (const char* ld = std::getenv("LD_LIBRARY_PATH")) dirs = split_list(ld, ':');
        for (const char* d : {"/usr/local/lib", "/usr/local/lib64", "/usr/lib/x86_64-linux-gnu",
                              "/usr/lib64", "/usr/lib"})
            dirs.emplace_back(d);
        for (const auto& d : dirs)
            if (usable(fs::path(d) / q.name, q.kind))
                return Located{fs::path(d) / q.name, "library path"};
        looked.emplace_back("LD_LIBRARY_PATH and /usr/local/lib, /usr/lib");
    }
    return make_error(Errc::kNotFound, q.name + " not found (give " + q.flag + " PATH; searched " +
                                           join(looked, ", ") + ")");
}

}  // namespace vtasos::bench
