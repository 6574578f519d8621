#include "internal/facts.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace vtasos::mpi {
namespace {

GetEnv env_of(const std::map<std::string, std::string>& m) {
    return [m](const char* n) -> const char* {
        auto it = m.find(n);
        return it == m.end() ? nullptr : it->second.c_str();
    };
}

TEST(MpiHookFacts, OpenMpiEnvironment) {
    RankFacts f;
    fill_from_env(f,
                  env_of({{"OMPI_COMM_WORLD_RANK", "3"},
                          {"OMPI_COMM_WORLD_SIZE", "8"},
                          {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                          {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
                          {"PMIX_NAMESPACE", "1234"},
                          {"PMIX_HOSTNAME", "n1"}}),
                  99);
    EXPECT_TRUE(f.complete());
    EXPECT_EQ(f.nspace, "1234");
    EXPECT_EQ(f.rank, 3);
    EXPECT_EQ(f.job_size, 8);
    EXPECT_EQ(f.local_rank, 1);
    EXPECT_EQ(f.local_size, 4);
    EXPECT_EQ(f.hostname, "n1");
    EXPECT_EQ(f.source, "env:OMPI");
}

TEST(MpiHookFacts, PmixValuesAreKept) {
    RankFacts f;
    f.nspace = "prterun-x@1";
    f.rank = 5;
    f.local_size = 2;
    f.local_rank = 0;
    f.node_id = 3;
    f.source = "pmix";
    fill_from_env(f,
                  env_of({{"OMPI_COMM_WORLD_RANK", "9"},
                          {"OMPI_COMM_WORLD_LOCAL_SIZE", "7"},
                          {"OMPI_COMM_WORLD_SIZE", "10"}}),
                  1);
    EXPECT_EQ(f.rank, 5);
    EXPECT_EQ(f.local_size, 2);
    EXPECT_EQ(f.job_size, 10);  // only the missing field came from the environment
    EXPECT_EQ(f.source, "pmix+env:OMPI");
}

TEST(MpiHookFacts, SlurmEnvironment) {
    RankFacts f;
    fill_from_env(f,
                  env_of({{"SLURM_PROCID", "5"},
                          {"SLURM_NTASKS", "6"},
                          {"SLURM_LOCALID", "2"},
                          {"SLURM_NODEID", "1"},
                          {"SLURM_TASKS_PER_NODE", "2,3(x2)"},
                          {"SLURM_JOB_ID", "77"},
                          {"SLURM_STEP_ID", "0"}}),
                  1);
    EXPECT_TRUE(f.complete());
    EXPECT_EQ(f.nspace, "slurm.77.0");
    EXPECT_EQ(f.rank, 5);
    EXPECT_EQ(f.local_rank, 2);
    EXPECT_EQ(f.local_size, 3);
    EXPECT_EQ(f.node_id, 1);
    EXPECT_EQ(f.source, "env:SLURM");
}

TEST(MpiHookFacts, NothingMeansSingleton) {
    RankFacts f;
    fill_from_env(f, env_of({}), 4242);
    EXPECT_TRUE(f.complete());
    EXPECT_EQ(f.nspace, "singleton-4242");
    EXPECT_EQ(f.rank, 0);
    EXPECT_EQ(f.local_size, 1);
    EXPECT_EQ(f.local_rank, 0);
    EXPECT_EQ(f.source, "singleton");
}

TEST(MpiHookFacts, GarbageIsIgnored) {
    RankFacts f;
    fill_from_env(f,
                  env_of({{"OMPI_COMM_WORLD_RANK", "x"},
                          {"OMPI_COMM_WORLD_LOCAL_SIZE", "-2"},
                          {"PMIX_NAMESPACE", "9"},
                          {"PMIX_RANK", "1"}}),
                  1);
    EXPECT_EQ(f.rank, 1);
    EXPECT_EQ(f.local_size, -1);
    EXPECT_FALSE(f.complete());
}

TEST(MpiHookFacts, JobTenantIds) {
    EXPECT_EQ(job_tenant_id("1074659329", 0), "mpi-1074659329-n0");
    EXPECT_EQ(job_tenant_id("1074659329", -1), "mpi-1074659329");
    EXPECT_EQ(job_tenant_id("prterun-host-12@1", 2), "mpi-prterun-host-12@1-n2");
    // characters outside the id charset: replaced, and a hash keeps them apart
    std::string a = job_tenant_id("job/a b", 0), b = job_tenant_id("job_a_b", 0);
    EXPECT_NE(a, b);
    EXPECT_EQ(b, "mpi-job_a_b-n0");
    // long namespaces: at most 64 characters, still distinct
    std::string l1 = job_tenant_id(std::string(100, 'x') + "1", 12);
    std::string l2 = job_tenant_id(std::string(100, 'x') + "2", 12);
    EXPECT_LE(l1.size(), 64u);
    EXPECT_NE(l1, l2);
    EXPECT_EQ(l1.substr(l1.size() - 4), "-n12");
    std::set<char> ok;
    for (char c : l1 + a)
        EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) ||
                    std::string("._-:@+").find(c) != std::string::npos)
            << c;
}

}  // namespace
}  // namespace vtasos::mpi
