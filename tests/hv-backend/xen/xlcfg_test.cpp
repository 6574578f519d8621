// vtasos-image xlcfg: the generated xl.cfg parses back with libxlutil (xl's
// own parser) to the same values; bad options are clear errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

extern "C" {
#include <libxlutil.h>
}

#include "xlcfg.h"

namespace vtasos::image {
namespace {

namespace fs = std::filesystem;

struct Parsed {
    XLU_Config* cfg = nullptr;
    explicit Parsed(const std::string& text) {
        cfg = xlu_cfg_init(stderr, "xlcfg_test");
        if (cfg && xlu_cfg_readdata(cfg, text.data(), static_cast<int>(text.size())) != 0) {
            xlu_cfg_destroy(cfg);
            cfg = nullptr;
        }
    }
    ~Parsed() {
        if (cfg) xlu_cfg_destroy(cfg);
    }
    std::string str(const char* k) const {
        const char* v = nullptr;
        return xlu_cfg_get_string(cfg, k, &v, 0) == 0 ? v : "<missing>";
    }
    long num(const char* k) const {
        long v = -1;
        return xlu_cfg_get_long(cfg, k, &v, 0) == 0 ? v : -1;
    }
    std::vector<std::string> list(const char* k) const {
        XLU_ConfigList* l = nullptr;
        int n = 0;
        std::vector<std::string> out;
        if (xlu_cfg_get_list(cfg, k, &l, &n, 0) != 0) return out;
        for (int i = 0; i < n; ++i) out.push_back(xlu_cfg_get_listitem(l, i));
        return out;
    }
};

struct Files : ::testing::Test {
    fs::path dir;
    XlCfgOptions opt;
    void SetUp() override {
        char t[] = "/tmp/vtasos-xlcfg-XXXXXX";
        dir = ::mkdtemp(t);
        std::ofstream(dir / "cg.img") << "x";
        std::ofstream(dir / "vmlinuz") << "x";
        opt.image = (dir / "cg.img").string();
        opt.kernel = (dir / "vmlinuz").string();
    }
    void TearDown() override { fs::remove_all(dir); }
};

TEST_F(Files, PerVcpuAffinityPoolAndMemoryParseBack) {
    opt.cpus = 4;
    opt.cpus_list = {"0", "2", "4", "6"};
    opt.pool = "vtasos-cg";
    opt.memory_mb = 768;
    auto text = make_xlcfg(opt);
    ASSERT_TRUE(text.ok()) << text.error().to_string();
    Parsed p(*text);
    ASSERT_NE(p.cfg, nullptr) << *text;
    EXPECT_EQ(p.str("name"), "cg");
    EXPECT_EQ(p.str("type"), "pv");
    EXPECT_EQ(p.str("kernel"), opt.kernel);
    EXPECT_EQ(p.str("ramdisk"), opt.image);
    EXPECT_EQ(p.num("vcpus"), 4);
    EXPECT_EQ(p.num("memory"), 768);
    EXPECT_EQ(p.list("cpus"), (std::vector<std::string>{"0", "2", "4", "6"}));
    EXPECT_EQ(p.str("pool"), "vtasos-cg");
    EXPECT_EQ(p.str("on_poweroff"), "destroy");
    EXPECT_NE(p.str("extra").find("console=hvc0"), std::string::npos);
    EXPECT_NE(p.str("extra").find("nohz_full=1-3"), std::string::npos) << "tickless preset";
}

TEST_F(Files, OneListForAllVcpusAndNoPool) {
    opt.cpus = 2;
    opt.cpus_list = {"3,2"};
    opt.name = "guest-a";
    opt.timer = TimerPreset::kStock;
    auto text = make_xlcfg(opt);
    ASSERT_TRUE(text.ok());
    Parsed p(*text);
    ASSERT_NE(p.cfg, nullptr);
    EXPECT_EQ(p.str("cpus"), "2-3");
    EXPECT_EQ(p.str("name"), "guest-a");
    EXPECT_EQ(p.str("pool"), "<missing>");
    EXPECT_EQ(p.str("extra").find("nohz_full"), std::string::npos);
}

TEST_F(Files, PlacementFileGivesPerVcpuLists) {
    std::ofstream(dir / "p.json")
        << R"({"placement":{"tenant":"cg","cpus":[{"cpu":0,"pus":[1]},{"cpu":1,"pus":[5]}],"mem_nodes":[0]}})";
    auto l = cpus_list_from_placement_file((dir / "p.json").string());
    ASSERT_TRUE(l.ok()) << l.error().to_string();
    EXPECT_EQ(*l, (std::vector<std::string>{"1", "5"}));
    EXPECT_EQ(cpus_list_from_placement_file((dir / "none.json").string()).error().code(),
              Errc::kNotFound);
}

TEST_F(Files, BadOptionsAreClearErrors) {
    auto o = opt;
    o.cpus = 3;
    o.cpus_list = {"1", "2"};
    EXPECT_EQ(make_xlcfg(o).error().code(), Errc::kInvalidArgument);
    o = opt;
    o.cpus_list = {"two"};
    EXPECT_NE(make_xlcfg(o).error().message().find("--cpus-list"), std::string::npos);
    o = opt;
    o.pool = "evil\"\npool";
    EXPECT_EQ(make_xlcfg(o).error().code(), Errc::kInvalidArgument);
    o = opt;
    o.image = (dir / "missing.img").string();
    EXPECT_EQ(make_xlcfg(o).error().code(), Errc::kNotFound);
    o = opt;
    o.memory_mb = 16;
    EXPECT_EQ(make_xlcfg(o).error().code(), Errc::kInvalidArgument);
}

}  // namespace
}  // namespace vtasos::image
