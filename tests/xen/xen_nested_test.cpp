// xen_nested_test: boots a real Xen 4.17 nested under QEMU TCG on the paper's shape
// (4 sockets x 2 cores, 4 NUMA nodes), with a PV dom0 that runs tests/xen/dom0/init.sh,
// and asserts every check line it prints on the serial console.
//
// Artifacts stay in <build>/tests/xen/run/: serial.log (the whole console), results.txt
// (boot time, slice costs, every check), dom0.img, domu.img.
// Skips only when QEMU, the Xen hypervisor or a kernel is not installed (scripts/test
// installs them: qemu-system-x86, xen-hypervisor-4.17-amd64, linux-image-amd64).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "vtasos/image/image.h"
#include "xen_fixture.h"

namespace vtasos::xenfix {
namespace {
namespace fs = std::filesystem;

// Checks that must PASS on every run: the fixture's own (toolstack, xl, PV domU, cpupool).
const std::set<std::string> kRequired = {"modules",  "toolstack",  "topology-xl", "domu-create",
                                         "domu-pin", "domu-pause", "cpupool",     "domu-destroy"};

std::vector<std::pair<std::string, std::string>> programs_of_build() {
    std::vector<std::pair<std::string, std::string>> out;
    std::stringstream ss(XENFIX_PROGRAMS);
    std::string item;
    while (std::getline(ss, item, ',')) {
        auto eq = item.find('=');
        if (eq == std::string::npos) continue;
        std::string path = item.substr(eq + 1);
        if (fs::exists(path)) out.emplace_back(item.substr(0, eq), path);
    }
    return out;
}

TEST(XenNested, PaperShapeToolstackDomUCpupoolAndOurChecks) {
    auto qemu = image::find_program("qemu-system-x86_64");
    if (!qemu) GTEST_SKIP() << "QEMU not installed: " << qemu.error().to_string();
    auto xen_gz = find_xen_gz();
    if (!xen_gz) GTEST_SKIP() << xen_gz.error().to_string();
    auto kernel = image::find_kernel();
    if (!kernel) GTEST_SKIP() << "no dom0 kernel: " << kernel.error().to_string();

    fs::path work = fs::path(XENFIX_WORK_DIR) / "run";
    fs::create_directories(work);

    // The PV domU: busybox running domu/run.sh under vtasos-init, plus the guest agent.
    image::BuildOptions domu;
    domu.app = "/bin/busybox";
    domu.out = (work / "domu.img").string();
    domu.args = {"sh", "/vtasos/run.sh"};
    domu.files = {{XENFIX_DOMU_SCRIPT, "/vtasos/run.sh"}};
#ifdef XENFIX_AGENT
    domu.files.emplace_back(XENFIX_AGENT, "/vtasos/agent");
    auto agent_libs = image::library_closure(XENFIX_AGENT);
    ASSERT_TRUE(agent_libs.ok()) << agent_libs.error().to_string();
    for (auto& l : *agent_libs) domu.files.emplace_back(fs::canonical(l).string(), l);
#endif
    auto domu_rep = image::build_image(domu);
    ASSERT_TRUE(domu_rep.ok()) << domu_rep.error().to_string();

    // The uncompressed vmlinux boots as a PV domU without an XZ inflate in emulated dom0.
    std::string domu_kernel = *kernel;
    if (auto vmlinux = image::pvh_kernel(*kernel); vmlinux.ok()) domu_kernel = *vmlinux;

    Dom0Options d0;
    d0.out = (work / "dom0.img").string();
    d0.init_script = XENFIX_INIT_SCRIPT;
    d0.kernel_version = kernel_version(*kernel);
    d0.programs = programs_of_build();
    d0.domu_kernel = domu_kernel;
    d0.domu_initrd = domu.out;
#ifdef XENFIX_AGENT
    d0.extra_text["vtasos/domu-has-agent"] = "1\n";
#endif
    auto d0_rep = build_dom0_initramfs(d0);
    ASSERT_TRUE(d0_rep.ok()) << d0_rep.error().to_string();

    BootOptions boot;
    boot.qemu = *qemu;
    boot.xen = (work / "xen").string();
    ASSERT_TRUE(extract_xen(*xen_gz, boot.xen).ok());
    boot.dom0_kernel = *kernel;
    boot.initramfs = d0.out;
    boot.serial_log = (work / "serial.log").string();
    boot.timeout_s = 420;
    // dom0 init normally starts 15-40 s after QEMU (up to about 60 s on a loaded
    // host). A boot that has not reached it in 180 s is the emulator stalling, not
    // our code: boot once more, and say so.
    boot.init_timeout_s = 180;
    auto res = boot_nested_xen(boot);
    ASSERT_TRUE(res.ok()) << res.error().to_string();
    if (res->init_timed_out) {
        std::error_code ec;
        fs::copy_file(boot.serial_log, work / "serial-stalled-boot.log",
                      fs::copy_options::overwrite_existing, ec);
        std::printf("dom0 init not reached within %d s (emulated boot stalled; console kept in "
                    "serial-stalled-boot.log): booting again\n",
                    boot.init_timeout_s);
        res = boot_nested_xen(boot);
        ASSERT_TRUE(res.ok()) << res.error().to_string();
    }
    ASSERT_FALSE(res->init_timed_out) << "dom0 init not reached within " << boot.init_timeout_s
                                      << " s in two boots; see " << boot.serial_log;

    std::ostringstream rep;
    rep << "xen: " << *xen_gz << " dom0 kernel: " << *kernel << " domU kernel: " << domu_kernel
        << "\n"
        << "dom0 initramfs: " << d0_rep->bytes << " bytes, " << d0_rep->files
        << " files, programs:";
    for (auto& p : d0_rep->programs) rep << " " << p;
    rep << "\nboot: QEMU start -> dom0 init " << res->seconds_to_init << " s; whole run "
        << res->seconds_total << " s (TCG, emulated)\n";
    for (auto& i : res->report.info) rep << "info " << i << "\n";
    for (auto& c : res->report.checks)
        rep << "check " << c.name << " " << c.verdict << " " << c.detail << "\n";
    std::ofstream(work / "results.txt") << rep.str();
    std::printf("%s", rep.str().c_str());

    ASSERT_FALSE(res->report.panic) << "Xen panicked; see " << boot.serial_log;
    ASSERT_FALSE(res->timed_out) << "no VTASOS-XEN-DONE within " << boot.timeout_s << " s; see "
                                 << boot.serial_log;
    ASSERT_TRUE(res->report.init_seen) << "dom0 init never ran; see " << boot.serial_log;
    ASSERT_TRUE(res->report.done) << "dom0 init did not finish; see " << boot.serial_log;
    for (auto& name : kRequired) {
        auto* c = res->report.find(name);
        ASSERT_NE(c, nullptr) << "check " << name << " missing; see " << boot.serial_log;
        EXPECT_EQ(c->verdict, "PASS") << name << ": " << c->detail;
    }
    // Every other check that ran (our programs, vtasosd) must pass too.
    for (auto& c : res->report.checks)
        if (!kRequired.count(c.name)) EXPECT_NE(c.verdict, "FAIL") << c.name << ": " << c.detail;
}

}  // namespace
}  // namespace vtasos::xenfix
