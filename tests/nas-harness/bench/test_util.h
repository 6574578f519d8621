// Shared helpers of the vtasos-bench tests: temporary directories, a fake kernel directory,
// and running the vtasos-bench executable.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "process.h"
#include "util.h"

namespace vtasos::bench::testing {

namespace fs = std::filesystem;

// A fresh directory under /tmp, removed at destruction.
class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/vtasos-bench-test.XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

// <dir>/kernels holding ep, is, cg, mg, ft (symlinks to fake-kernel.sh) and fwq (the real one).
inline fs::path make_fake_kernel_dir(const fs::path& dir,
                                     const std::vector<std::string>& kernels = {"ep", "is", "cg",
                                                                                "mg", "ft"}) {
    auto k = dir / "kernels";
    fs::create_directories(k);
    for (const auto& name : kernels)
        fs::create_symlink(fs::path(VTASOS_NPB_FIXTURES) / "fake-kernel.sh", k / name);
    fs::create_symlink(VTASOS_FWQ_EXE, k / "fwq");
    return k;
}

// Runs vtasos-bench with `args` (env additions), 240 s limit.
inline ProcessOutcome run_bench(const std::vector<std::string>& args,
                                std::vector<std::pair<std::string, std::string>> env = {}) {
    ProcessSpec spec;
    spec.argv = {VTASOS_BENCH_EXE};
    for (const auto& a : args) spec.argv.push_back(a);
    spec.set_env = std::move(env);
    spec.timeout = std::chrono::seconds(240);
    auto r = run_process(spec);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? *r : ProcessOutcome{};
}

inline nlohmann::json load_json(const fs::path& p) {
    auto text = read_file(p);
    EXPECT_TRUE(text.ok()) << p;
    if (!text.ok()) return {};
    return nlohmann::json::parse(*text);
}

inline bool non_empty_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && fs::file_size(p, ec) > 0;
}

}  // namespace vtasos::bench::testing
