// Unit tests of the nested-Xen fixture's pure parts: serial parsing, the QEMU command
// line for the paper's 4-socket x 2-core, 4-node shape, and the dom0 initramfs builder.
#include "xen_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "vtasos/image/image.h"

namespace vtasos::xenfix {
namespace {
namespace fs = std::filesystem;

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(XenFixtureSerial, ParsesChecksInfoAndMarkersAmidConsoleNoise) {
    std::string serial =
        "(XEN) Xen version 4.17.7\r\n"
        "VTASOS-XEN-INIT uptime=8.93\r\n"
        "VTASOS-XEN-CHECK modules PASS privcmd evtchn loaded\n"
        "[   12.1] random: crng init doneVTASOS-XEN-CHECK topology-xl FAIL want 4, got 2\n"
        "VTASOS-XEN-CHECK topology-vtasosd SKIP not built\n"
        "VTASOS-XEN-CHECK broken MAYBE something\n"
        "VTASOS-XEN-INFO slice xen_pause_unpause_median_us=80.0\n"
        "VTASOS-XEN-DONE checks=3 failed=1\n";
    auto r = parse_serial(serial);
    EXPECT_TRUE(r.init_seen);
    EXPECT_TRUE(r.done);
    EXPECT_FALSE(r.panic);
    ASSERT_EQ(r.checks.size(), 3u);  // the MAYBE verdict is not a check line
    EXPECT_EQ(r.checks[0], (CheckLine{"modules", "PASS", "privcmd evtchn loaded"}));
    EXPECT_EQ(r.checks[1], (CheckLine{"topology-xl", "FAIL", "want 4, got 2"}));
    EXPECT_EQ(r.checks[2].verdict, "SKIP");
    ASSERT_NE(r.find("topology-xl"), nullptr);
    EXPECT_EQ(r.find("nothing"), nullptr);
    ASSERT_EQ(r.info.size(), 1u);
    EXPECT_EQ(r.info[0], "slice xen_pause_unpause_median_us=80.0");
}

TEST(XenFixtureSerial, DetectsPanicAndMissingMarkers) {
    auto r = parse_serial(
        "(XEN) ****************************************\n"
        "(XEN) Panic on CPU 3:\n(XEN) FATAL PAGE FAULT\n");
    EXPECT_TRUE(r.panic);
    EXPECT_FALSE(r.init_seen);
    EXPECT_FALSE(r.done);
    EXPECT_TRUE(r.checks.empty());
}

TEST(XenFixtureQemu, PaperShapeHasSocketsCoresAndOneNumaNodePerSocket) {
    BootOptions o;
    o.qemu = "/usr/bin/qemu-system-x86_64";
    o.xen = "/tmp/xen";
    o.dom0_kernel = "/boot/vmlinuz-X";
    o.initramfs = "/tmp/dom0.img";
    o.serial_log = "/tmp/serial.log";
    auto a = qemu_xen_argv(o);
    ASSERT_FALSE(a.empty());
    EXPECT_EQ(a[0], "/usr/bin/qemu-system-x86_64");
    EXPECT_TRUE(has(a, "tcg,thread=multi"));
    EXPECT_TRUE(has(a, "8,sockets=4,cores=2,threads=1"));
    EXPECT_TRUE(has(a, "node,nodeid=0,cpus=0-1,memdev=m0"));
    EXPECT_TRUE(has(a, "node,nodeid=3,cpus=6-7,memdev=m3"));
    EXPECT_TRUE(has(a, "memory-backend-ram,id=m2,size=512M"));
    EXPECT_EQ(std::count_if(a.begin(), a.end(),
                            [](const std::string& w) {
                                return w.find("dom0_mem=1024M,max:1024M") != std::string::npos;
                            }),
              1);
    EXPECT_TRUE(has(a, "/boot/vmlinuz-X console=hvc0 quiet,/tmp/dom0.img"));
    EXPECT_TRUE(has(a, "file:/tmp/serial.log"));
    EXPECT_TRUE(has(a, "-no-reboot"));
    EXPECT_EQ(std::count(a.begin(), a.end(), "-numa"), 4);

    o.shape = {2, 4, 2, 1024};
    a = qemu_xen_argv(o);
    EXPECT_TRUE(has(a, "8,sockets=2,cores=4,threads=1"));
    EXPECT_TRUE(has(a, "node,nodeid=1,cpus=4-7,memdev=m1"));
    EXPECT_EQ(std::count(a.begin(), a.end(), "-numa"), 2);
}

class XenFixtureBuild : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("xenfix-unit-" + std::to_string(getpid()));
        fs::create_directories(dir_);
        opt_.out = (dir_ / "dom0.img").string();
        opt_.init_script = XENFIX_INIT_SCRIPT;
        auto k = image::find_kernel();
        if (k) opt_.kernel_version = kernel_version(*k);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
    Dom0Options opt_;
};

TEST_F(XenFixtureBuild, MissingBusyboxIsNotFoundAndWritesNothing) {
    opt_.busybox = (dir_ / "no-busybox").string();
    auto r = build_dom0_initramfs(opt_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kNotFound);
    EXPECT_NE(r.error().message().find("busybox-static"), std::string::npos);
    EXPECT_FALSE(fs::exists(opt_.out));
}

TEST_F(XenFixtureBuild, DynamicBusyboxIsRejected) {
    opt_.busybox = "/bin/ls";  // any dynamically linked executable
    auto r = build_dom0_initramfs(opt_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(r.error().message().find("static"), std::string::npos);
}

TEST_F(XenFixtureBuild, BadShapeIsInvalidArgument) {
    opt_.shape.nodes = 3;
    auto r = build_dom0_initramfs(opt_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
}

TEST_F(XenFixtureBuild, MissingXenToolNamesThePackage) {
    if (!fs::exists("/bin/busybox")) GTEST_SKIP() << "busybox-static not installed";
    opt_.xen_bin_dir = (dir_ / "no-xen").string();
    auto r = build_dom0_initramfs(opt_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kNotFound);
    EXPECT_NE(r.error().message().find("xen-utils-4.17"), std::string::npos);
}

TEST_F(XenFixtureBuild, ImageHoldsInitToolsModulesClosureAndProgram) {
    if (!fs::exists("/bin/busybox") || !fs::exists(opt_.xen_bin_dir + "/xl") ||
        opt_.kernel_version.empty())
        GTEST_SKIP() << "needs busybox-static, xen-utils-4.17 and a kernel in /boot";
    opt_.programs = {{"prog", "/bin/true"}};
    auto r = build_dom0_initramfs(opt_);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    std::ifstream in(opt_.out, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(data.size(), r->bytes);
    auto entries = image::read_cpio(data);
    ASSERT_TRUE(entries.ok()) << entries.error().to_string();
    std::set<std::string> paths;
    std::string expect;
    for (auto& e : *entries) {
        paths.insert(e.path);
        if (e.path == "vtasos/expect") expect = e.data;
    }
    for (const char* p :
         {"init", "bin/busybox", "bin/sh", "usr/lib/xen-4.17/bin/xl",
          "usr/lib/xen-4.17/bin/xenstored", "usr/bin/xenstore-read",
          "vtasos/modules/xen-privcmd.ko", "vtasos/modules/xenfs.ko", "vtasos/bin/prog",
          "lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libxenctrl.so.4.17",
          "lib/x86_64-linux-gnu/libgcc_s.so.1", "vtasos/modules/xen-evtchn.ko"})
        EXPECT_TRUE(paths.count(p)) << p;
    EXPECT_NE(expect.find("EXPECT_SOCKETS=4"), std::string::npos) << expect;
    EXPECT_NE(expect.find("EXPECT_NODES=4"), std::string::npos) << expect;
    EXPECT_EQ(r->programs, std::vector<std::string>{"prog"});
}

}  // namespace
}  // namespace vtasos::xenfix
