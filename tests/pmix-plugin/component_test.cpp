// The built component as Open MPI sees it: dlopen mca_hook_vtasos.so, find
// mca_hook_vtasos_component, check the version block and which hooks are set.
// clang-format off
// Open MPI's ompi_config.h must come first (hook_vtasos.h / hook.h include it).
#include "ompi_config.h"
#include "ompi/mca/hook/hook.h"
// clang-format on

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstring>

namespace {

TEST(MpiHookComponent, ExportsTheComponentStructOnly) {
    void* h = dlopen(VTASOS_MPI_HOOK_SO, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(h, nullptr) << dlerror();
    auto* c = static_cast<ompi_hook_base_component_1_0_0_t*>(dlsym(h, "mca_hook_vtasos_component"));
    ASSERT_NE(c, nullptr);
    const mca_base_component_t& v = c->hookm_version;
    EXPECT_STREQ(v.mca_type_name, "hook");
    EXPECT_STREQ(v.mca_component_name, "vtasos");
    EXPECT_STREQ(v.mca_project_name, "ompi");
    EXPECT_EQ(v.mca_major_version, MCA_BASE_VERSION_MAJOR);
    EXPECT_EQ(v.mca_type_major_version, 1);
    EXPECT_EQ(v.mca_project_major_version, OMPI_MAJOR_VERSION);
    EXPECT_NE(v.mca_open_component, nullptr);
    EXPECT_NE(v.mca_register_component_params, nullptr);
    // Only init-bottom and finalize-top act.
    EXPECT_NE(c->hookm_mpi_init_bottom, nullptr);
    EXPECT_NE(c->hookm_mpi_finalize_top, nullptr);
    EXPECT_EQ(c->hookm_mpi_init_top, nullptr);
    EXPECT_EQ(c->hookm_mpi_init_top_post_opal, nullptr);
    EXPECT_EQ(c->hookm_mpi_init_error, nullptr);
    EXPECT_EQ(c->hookm_mpi_finalize_bottom, nullptr);
    EXPECT_EQ(c->hookm_mpi_initialized_top, nullptr);
    EXPECT_EQ(c->hookm_mpi_init_thread_top, nullptr);
    // Nothing else leaks out (static fmt/json/core copies stay private).
    EXPECT_EQ(dlsym(h, "_ZN6vtasos3mpi8validateERKNS0_9RawParamsE"), nullptr);
    // Before MPI_Init (no Open MPI state) the hooks do nothing and do not crash.
    c->hookm_mpi_finalize_top();
    dlclose(h);
}

}  // namespace
