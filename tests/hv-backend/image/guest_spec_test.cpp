// vtasos-bench's guest command lines (nas-harness/bench/guest_mode.cpp), run against a fake
// vtasos-image script: the image is built once per binary and flavour, then each mode boots
// it the way modes.h documents.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "guest_mode.h"

namespace {

using namespace vtasos::bench;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Fake {
    fs::path dir;
    GuestPlan plan;
    Program prog;
    Fake() {
        char tmpl[] = "/tmp/vtasos-guest-spec-XXXXXX";
        dir = ::mkdtemp(tmpl);
        // Fake tools: record argv, "build" writes the --out file.
        std::string script = "#!/bin/sh\necho \"$(basename $0) $*\" >> " +
                             (dir / "calls").string() +
                             "\nif [ \"$1\" = build ]; then while [ $# -gt 0 ]; do "
                             "[ \"$1\" = --out ] && echo img > \"$2\"; shift; done; fi\nexit 0\n";
        for (const char* n : {"vtasos-image", "vtasosctl"}) {
            std::ofstream(dir / n) << script;
            ::chmod((dir / n).c_str(), 0755);
        }
        std::ofstream(dir / "ep") << "binary";
        plan.image_tool = (dir / "vtasos-image").string();
        plan.vtasosctl = (dir / "vtasosctl").string();
        plan.socket = "/tmp/s.sock";
        plan.ompt_lib = "/lib/libvtasos-ompt.so";
        plan.accel = "tcg";
        plan.cache_dir = dir.string();
        prog.binary = (dir / "ep").string();
        prog.argv = {prog.binary, "--class", "S", "--threads", "2"};
        prog.env = {{"OMP_NUM_THREADS", "2"}};
        prog.cpus = 2;
        prog.coexist = "core";
    }
    ~Fake() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::vector<std::string> run(Mode m) {
        auto spec = guest_spec(m, plan, prog, {});
        auto r = run_process(spec);
        EXPECT_TRUE(r && r->succeeded()) << (r ? r->describe() + r->err : r.error().message());
        std::vector<std::string> lines;
        std::istringstream in(slurp(dir / "calls"));
        for (std::string l; std::getline(in, l);) lines.push_back(l);
        fs::remove(dir / "calls");
        return lines;
    }
};

TEST(GuestSpec, EachModeBootsTheImageItsWay) {
    Fake f;
    auto calls = f.run(Mode::kKvm);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].rfind("vtasos-image build --app " + f.prog.binary, 0), 0u) << calls[0];
    EXPECT_EQ(calls[0].find("--with-ompt"), std::string::npos);
    EXPECT_NE(calls[1].find("vtasos-image run "), std::string::npos);
    EXPECT_NE(calls[1].find("--timer stock --accel tcg"), std::string::npos) << calls[1];
    EXPECT_NE(calls[1].find("--env OMP_NUM_THREADS=2 -- --class S --threads 2"), std::string::npos)
        << calls[1];
    // Built once: the next run of the same binary only boots.
    calls = f.run(Mode::kKvmTickless);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_NE(calls[0].find("--timer tickless"), std::string::npos);
    // kvm-vtasos: its own image (tool and channel), placed by vtasosd.
    calls = f.run(Mode::kKvmVtasos);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_NE(calls[0].find("--channel --with-ompt /lib/libvtasos-ompt.so"), std::string::npos);
    EXPECT_NE(calls[1].find("vtasosctl --socket /tmp/s.sock run --vm "), std::string::npos);
    EXPECT_NE(calls[1].find("--cpus 2 --coexist core --vm-timer tickless --vm-accel tcg"),
              std::string::npos)
        << calls[1];
    EXPECT_NE(calls[1].find("--vm-env OMP_NUM_THREADS=2 -- --class S"), std::string::npos);
}

TEST(GuestSpec, LauncherWrappedProgramsFailWithTheReason) {
    Fake f;
    f.prog.argv = {"mpirun", "-np", "2", f.prog.binary};
    auto r = run_process(guest_spec(Mode::kKvm, f.plan, f.prog, {}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->exit_code, 125);
    EXPECT_NE(r->err.find("not through a launcher"), std::string::npos);
    EXPECT_EQ(sh_quote("a'b"), "'a'\\''b'");
}

}  // namespace
