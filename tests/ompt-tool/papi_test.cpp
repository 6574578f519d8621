#include "internal/papi.h"

#include <gtest/gtest.h>

namespace vtasos::ompt {
namespace {

// Where the machine has no counters (this project's VMs) both paths say why;
// where it has them, one thread's event set starts and stops.
TEST(OmptPapi, ReportsCountersOrWhyNot) {
    for (bool probe : {true, false}) {
        std::string why;
        auto pc = PapiCounters::open(&why, probe);
        if (!pc) {
            EXPECT_FALSE(why.empty());
            std::printf("probe=%d: bandwidth unknown: %s\n", probe, why.c_str());
            continue;
        }
        EXPECT_EQ(pc->source().rfind("papi:", 0), 0u);
        int es = pc->start_thread();
        ASSERT_GE(es, 0);
        volatile double x = 0;
        for (int i = 0; i < 1000000; ++i) x = x + i;
        uint64_t v[2] = {0, 0};
        pc->stop_thread(es, v);
        std::printf("probe=%d: %s counted %llu + %llu\n", probe, pc->source().c_str(),
                    static_cast<unsigned long long>(v[0]), static_cast<unsigned long long>(v[1]));
    }
}

TEST(OmptPapi, TheProbeAvoidsLoadingPapiWithoutAPmu) {
    std::string why;
    auto pc = PapiCounters::open(&why, true);
    if (pc) GTEST_SKIP() << "this machine has hardware counters (" << pc->source() << ")";
    EXPECT_NE(why.find("no hardware counters"), std::string::npos) << why;
}

}  // namespace
}  // namespace vtasos::ompt
