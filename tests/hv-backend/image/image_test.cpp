// Unit tests of vtasos_image: accelerator decision, timer presets, ldd parsing, cpio,
// ELF checks and the error contract of build/run (no guest is booted here).
#include "vtasos/image/image.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace vi = vtasos::image;
using vtasos::Errc;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
    auto d = fs::temp_directory_path() / ("vtasos-image-test-" + std::to_string(getpid()));
    fs::create_directories(d);
    return d;
}
void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

TEST(Accel, NoVmxIsTcgWithReason) {
    auto d =
        vi::decide_accelerator("flags\t: fpu sse2 avx\n", "kvm_pvm 0 0\nkvm 0 0\n", false, true);
    EXPECT_EQ(d.accel, vi::Accel::kTcg);
    EXPECT_TRUE(d.emulated());
    EXPECT_NE(d.reason.find("vmx/svm"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("kvm_pvm"), std::string::npos) << d.reason;
}

TEST(Accel, VmxWithoutModuleIsTcg) {
    auto d = vi::decide_accelerator("flags\t: fpu vmx\n", "kvm 0 0\n", false, true);
    EXPECT_EQ(d.accel, vi::Accel::kTcg);
    EXPECT_NE(d.reason.find("kvm_intel"), std::string::npos);
}

TEST(Accel, VmxModuleAndDeviceIsKvm) {
    auto d = vi::decide_accelerator("flags\t: fpu vmx\n", "kvm_intel 1 0\n", false, true);
    EXPECT_EQ(d.accel, vi::Accel::kKvm);
    auto a = vi::decide_accelerator("flags\t: svm\n", "", true, true);
    EXPECT_EQ(a.accel, vi::Accel::kKvm);
    EXPECT_EQ(vi::decide_accelerator("flags\t: svm\n", "kvm_amd 1 0\n", false, false).accel,
              vi::Accel::kTcg);
}

TEST(Timer, Presets) {
    EXPECT_TRUE(vi::timer_cmdline(vi::TimerPreset::kStock, 4).empty());
    auto t = vi::timer_cmdline(vi::TimerPreset::kTickless, 4);
    EXPECT_TRUE(has(t, "nohz_full=1-3"));
    EXPECT_TRUE(has(t, "rcu_nocbs=1-3"));
    EXPECT_TRUE(has(t, "irqaffinity=0"));
    EXPECT_TRUE(has(t, "nosoftlockup"));
    EXPECT_TRUE(has(vi::timer_cmdline(vi::TimerPreset::kTickless, 2), "nohz_full=1"));
    auto one = vi::timer_cmdline(vi::TimerPreset::kTickless, 1);
    for (auto& w : one) EXPECT_EQ(w.find("nohz_full"), std::string::npos);
    EXPECT_EQ(*vi::parse_timer_preset("tickless"), vi::TimerPreset::kTickless);
    auto bad = vi::parse_timer_preset("hz1000");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(bad.error().message().find("hz1000"), std::string::npos);
}

TEST(Ldd, ParsesResolvedMissingAndLoader) {
    auto e = vi::parse_ldd_output(
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibomp.so.5 => /usr/lib/llvm-14/lib/libomp.so.5 (0x00007f74)\n"
        "\tlibfoo.so.1 => not found\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f75)\n");
    ASSERT_EQ(e.size(), 3u);
    EXPECT_EQ(e[0], (vi::LddEntry{"libomp.so.5", "/usr/lib/llvm-14/lib/libomp.so.5"}));
    EXPECT_EQ(e[1], (vi::LddEntry{"libfoo.so.1", ""}));
    EXPECT_EQ(e[2].path, "/lib64/ld-linux-x86-64.so.2");
    EXPECT_TRUE(vi::parse_ldd_output("\tstatically linked\n").empty());
}

TEST(Cpio, RoundTripAndAlignment) {
    std::vector<vi::CpioEntry> in{{"bin", S_IFDIR | 0755, ""},
                                  {"bin/app", S_IFREG | 0755,
                                   std::string("\x7f"
                                               "ELF\0x",
                                               6)},
                                  {"lnk", S_IFLNK | 0777, "bin/app"}};
    auto a = vi::write_cpio(in);
    EXPECT_EQ(a.size() % 4, 0u);
    EXPECT_EQ(a.compare(0, 6, "070701"), 0);
    EXPECT_NE(a.find("TRAILER!!!"), std::string::npos);
    auto out = vi::read_cpio(a + vi::write_cpio({{"x", S_IFREG | 0644, "y"}}));
    ASSERT_TRUE(out) << out.error().to_string();
    ASSERT_EQ(out->size(), 4u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ((*out)[i].path, in[i].path);
        EXPECT_EQ((*out)[i].mode, in[i].mode);
        EXPECT_EQ((*out)[i].data, in[i].data);
    }
    EXPECT_FALSE(vi::read_cpio("garbage-garbage"));
}

TEST(Elf, NotAnElfAndMissing) {
    auto d = temp_dir();
    write(d / "script.sh", "#!/bin/sh\necho hi\n");
    auto r = vi::read_elf((d / "script.sh").string());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(r.error().message().find("not an ELF"), std::string::npos);
    auto m = vi::read_elf((d / "nope").string());
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), Errc::kNotFound);
    auto self = vi::read_elf("/proc/self/exe");
    ASSERT_TRUE(self) << self.error().to_string();
    EXPECT_FALSE(self->interpreter.empty());
    fs::remove_all(d);
}

TEST(Build, NotAnElfIsAClearError) {
    auto d = temp_dir();
    write(d / "script.sh", "#!/bin/sh\necho hi\n");
    auto r = vi::build_image({.app = (d / "script.sh").string(), .out = (d / "x.img").string()});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(r.error().message().find("not an ELF file"), std::string::npos)
        << r.error().message();
    EXPECT_FALSE(fs::exists(d / "x.img"));
    fs::remove_all(d);
}

TEST(Build, MissingLibraryIsAClearError) {
    auto d = temp_dir();
    auto r = vi::build_image({.app = MISSING_LIB_APP, .out = (d / "x.img").string()});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kNotFound);
    EXPECT_NE(r.error().message().find("libimage_test_dep.so"), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find("missing shared library"), std::string::npos);
    fs::remove_all(d);
}

TEST(Build, ClosureContentsAndMetadata) {
    auto d = temp_dir();
    write(d / "extra.txt", "data");
    vi::BuildOptions o{.app = "/bin/true", .out = (d / "t.img").string()};
    o.files = {{(d / "extra.txt").string(), "/etc/extra.txt"}};
    o.env = {"FOO=bar"};
    o.args = {"a b", "c"};
    auto r = vi::build_image(o);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->image_bytes, fs::file_size(d / "t.img"));
    std::ifstream f(d / "t.img", std::ios::binary);
    std::string img((std::istreambuf_iterator<char>(f)), {});
    auto e = vi::read_cpio(img);
    ASSERT_TRUE(e);
    auto find = [&](const std::string& p) -> const vi::CpioEntry* {
        for (auto& x : *e)
            if (x.path == p) return &x;
        return nullptr;
    };
    ASSERT_NE(find("init"), nullptr);
    ASSERT_NE(find("bin/true"), nullptr);
    ASSERT_NE(find("lib64/ld-linux-x86-64.so.2"), nullptr);
    ASSERT_NE(find("etc/extra.txt"), nullptr);
    EXPECT_EQ(find("etc/extra.txt")->data, "data");
    EXPECT_EQ(find("vtasos/app")->data, "/bin/true");
    EXPECT_EQ(find("vtasos/args")->data, std::string("a b\0c\0", 6));
    EXPECT_NE(find("vtasos/env")->data.find(std::string("FOO=bar\0", 8)), std::string::npos);
    EXPECT_NE(find("vtasos/env")->data.find("LD_LIBRARY_PATH="), std::string::npos);
    EXPECT_NE(r->to_string().find("/bin/true"), std::string::npos);
    auto bad_env =
        vi::build_image({.app = "/bin/true", .out = (d / "u.img").string(), .env = {"NOEQUALS"}});
    ASSERT_FALSE(bad_env);
    EXPECT_EQ(bad_env.error().code(), Errc::kInvalidArgument);
    fs::remove_all(d);
}

TEST(Qemu, ArgvHasAccelSmpSerialAndCmdline) {
    vi::QemuConfig c{.kernel = "/k",
                     .initrd = "/i",
                     .cpus = 3,
                     .memory_mb = 512,
                     .append = {"nohz_full=1-2"},
                     .qmp_socket = "/tmp/q.sock"};
    auto a = vi::qemu_argv(c, "/usr/bin/qemu");
    auto at = [&](const std::string& opt) {
        auto it = std::find(a.begin(), a.end(), opt);
        return it == a.end() || it + 1 == a.end() ? std::string() : *(it + 1);
    };
    EXPECT_EQ(at("-accel"), "tcg,thread=multi");
    EXPECT_EQ(at("-smp"), "3");
    EXPECT_EQ(at("-m"), "512");
    EXPECT_EQ(at("-serial"), "stdio");
    EXPECT_EQ(at("-qmp"), "unix:/tmp/q.sock,server=on,wait=off");
    EXPECT_NE(at("-append").find("console=ttyS0"), std::string::npos);
    EXPECT_NE(at("-append").find("nohz_full=1-2"), std::string::npos);
    EXPECT_TRUE(std::find(a.begin(), a.end(), "-no-reboot") != a.end());
    c.accel = vi::Accel::kKvm;
    EXPECT_EQ(vi::qemu_argv(c, "q")[2], "kvm");
}

TEST(Qemu, ConsoleAndChannelSocketsForVmTenants) {
    vi::QemuConfig c{.kernel = "/k", .initrd = "/i", .cpus = 2};
    c.console_socket = "/run/x/console.sock";
    c.channel_socket = "/run/x/chan.sock";
    auto a = vi::qemu_argv(c, "q");
    auto all = [&](const std::string& opt) {
        std::vector<std::string> v;
        for (size_t i = 0; i + 1 < a.size(); ++i)
            if (a[i] == opt) v.push_back(a[i + 1]);
        return v;
    };
    EXPECT_EQ(all("-serial"), std::vector<std::string>{"chardev:con0"});
    EXPECT_TRUE(has(all("-chardev"), "socket,id=con0,path=/run/x/console.sock,server=off"));
    EXPECT_TRUE(has(all("-chardev"), "socket,id=vch0,path=/run/x/chan.sock,server=off"));
    EXPECT_TRUE(has(all("-device"), "virtio-serial-pci,id=vser0"));
    EXPECT_TRUE(
        has(all("-device"), "virtserialport,bus=vser0.0,chardev=vch0,name=org.vtasos.0"));
    EXPECT_NE(all("-append").at(0).find("vtasos.channel=1"), std::string::npos);
    c = {.kernel = "/k", .initrd = "/i"};
    c.console_log = "/tmp/c.log";
    a = vi::qemu_argv(c, "q");
    EXPECT_EQ(all("-serial"), std::vector<std::string>{"file:/tmp/c.log"});
    EXPECT_TRUE(all("-device").empty());
    EXPECT_EQ(all("-append").at(0).find("vtasos.channel"), std::string::npos);
}

TEST(Build, ModuleClosureDependenciesFirst) {
    auto k = vi::find_kernel();
    if (!k) GTEST_SKIP() << k.error().to_string();
    std::string ver = vi::kernel_version_of(*k);
    EXPECT_EQ(vi::kernel_version_of("/boot/vmlinuz-6.1.0-56-amd64"), "6.1.0-56-amd64");
    if (!fs::exists("/lib/modules/" + ver + "/modules.dep")) GTEST_SKIP() << "no modules.dep";
    auto m = vi::module_closure(ver, {"virtio_pci", "virtio_console"});
    if (!m && m.error().message().find("built in") != std::string::npos)
        GTEST_SKIP() << m.error().to_string();  // a kernel with virtio built in
    ASSERT_TRUE(m) << m.error().to_string();
    auto pos = [&](const std::string& name) {
        for (size_t i = 0; i < m->size(); ++i)
            if (fs::path((*m)[i]).filename().string().rfind(name + ".ko", 0) == 0) return int(i);
        return -1;
    };
    ASSERT_GE(pos("virtio_console"), 0);
    EXPECT_EQ(pos("virtio_console"), int(m->size()) - 1);
    if (pos("virtio") >= 0) EXPECT_LT(pos("virtio"), pos("virtio_pci"));
    if (pos("virtio_ring") >= 0) EXPECT_LT(pos("virtio_ring"), pos("virtio"));
    auto missing = vi::module_closure(ver, {"no_such_module_xyz"});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::kNotFound);
    EXPECT_NE(missing.error().message().find("no_such_module_xyz"), std::string::npos);
    auto nover = vi::module_closure("0.0.0-none", {"virtio_console"});
    ASSERT_FALSE(nover);
    EXPECT_NE(nover.error().message().find("modules.dep"), std::string::npos);
}

TEST(Run, QemuMissingKernelMissingImageMissing) {
    auto d = temp_dir();
    auto img = vi::build_image({.app = "/bin/true", .out = (d / "t.img").string()});
    ASSERT_TRUE(img) << img.error().to_string();
    vi::RunOptions o;
    setenv("TMPDIR", d.c_str(), 1);
    o.image = (d / "t.img").string();
    o.force_accel = vi::Accel::kTcg;
    o.out_fd = -1;
    o.qemu.qemu = "/nonexistent/qemu-system-x86_64";
    auto r = vi::run_image(o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kUnavailable);
    EXPECT_NE(r.error().message().find("/nonexistent/qemu-system-x86_64"), std::string::npos);
    o.qemu.qemu = "qemu-system-x86_64";
    o.qemu.kernel = "/nonexistent/vmlinuz";
    if (vi::find_program("qemu-system-x86_64")) {
        auto k = vi::run_image(o);
        ASSERT_FALSE(k);
        EXPECT_EQ(k.error().code(), Errc::kNotFound);
        EXPECT_NE(k.error().message().find("/nonexistent/vmlinuz"), std::string::npos);
    }
    o.image = (d / "missing.img").string();
    auto m = vi::run_image(o);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), Errc::kNotFound);
    // No temporary initrd is left behind (they go to $TMPDIR).
    for (auto& e : fs::directory_iterator(d))
        EXPECT_EQ(e.path().filename().string().rfind("vtasos-initrd-", 0), std::string::npos);
    unsetenv("TMPDIR");
    fs::remove_all(d);
}

TEST(Kernel, BootModesAndPvhErrors) {
    EXPECT_EQ(*vi::parse_kernel_boot("pvh"), vi::KernelBoot::kPvh);
    EXPECT_EQ(*vi::parse_kernel_boot("bzimage"), vi::KernelBoot::kBzImage);
    EXPECT_EQ(*vi::parse_kernel_boot("auto"), vi::KernelBoot::kAuto);
    EXPECT_EQ(vi::parse_kernel_boot("uefi").error().code(), Errc::kInvalidArgument);
    auto d = temp_dir();
    write(d / "fake-vmlinuz", std::string(4096, 'x'));
    auto r = vi::pvh_kernel((d / "fake-vmlinuz").string(), (d / "cache").string());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::kUnavailable);
    EXPECT_NE(r.error().message().find("no xz-compressed payload"), std::string::npos);
    EXPECT_EQ(vi::pvh_kernel((d / "nope").string()).error().code(), Errc::kNotFound);
    fs::remove_all(d);
}
