// The component structure and its MCA parameters (hook_vtasos_*).
// clang-format off
// Open MPI's ompi_config.h must come first (hook_vtasos.h / hook.h include it).
#include "hook_vtasos.h"
#include "ompi/mca/hook/base/base.h"
#include "ompi/constants.h"
#include "opal/mca/base/mca_base_var.h"
// clang-format on

#include "../internal/config.h"

namespace {

constexpr auto kNoFlags = static_cast<mca_base_var_flag_t>(0);

// Storage Open MPI writes the parameter values into. String defaults must
// point at writable storage before registration; Open MPI copies them.
char* g_enable = nullptr;
char* g_socket = nullptr;
char* g_profile = nullptr;
char* g_binding = nullptr;
int g_threads_per_rank = 0;
int g_verbose = 0;
int g_timeout_ms = 3000;

vtasos::mpi::ComponentState g_state;

void init_bottom_trampoline(int argc, char** argv, int requested, int* provided) {
    vtasos::mpi::hook_init_bottom(argc, argv, requested, provided);
}

void finalize_top_trampoline(void) { vtasos::mpi::hook_finalize_top(); }

int reg_string(const char* name, const char* help, int level, char** storage, const char* def) {
    static char empty[] = "";
    *storage = const_cast<char*>(def ? def : empty);
    return mca_base_component_var_register(&mca_hook_vtasos_component.hookm_version, name, help,
                                           MCA_BASE_VAR_TYPE_STRING, nullptr, 0, kNoFlags,
                                           static_cast<mca_base_var_info_lvl_t>(level),
                                           MCA_BASE_VAR_SCOPE_READONLY, storage);
}

int reg_int(const char* name, const char* help, int level, int* storage, int def) {
    *storage = def;
    return mca_base_component_var_register(&mca_hook_vtasos_component.hookm_version, name, help,
                                           MCA_BASE_VAR_TYPE_INT, nullptr, 0, kNoFlags,
                                           static_cast<mca_base_var_info_lvl_t>(level),
                                           MCA_BASE_VAR_SCOPE_READONLY, storage);
}

int component_register(void) {
    reg_string("enable",
               "When the hook acts: auto = only when selected with --mca hook vtasos (or a list "
               "naming vtasos), yes = whenever the component is loaded (e.g. installed in the "
               "system component directory), no = never",
               OPAL_INFO_LVL_2, &g_enable, "auto");
    reg_string("socket",
               "vtasosd socket on each node (empty = $VTASOS_SOCKET, else /run/vtasos/vtasosd.sock "
               "for root, else $XDG_RUNTIME_DIR/vtasos.sock)",
               OPAL_INFO_LVL_3, &g_socket, "");
    reg_string("profile",
               "Application profile the job is placed with (a name from vtasos' profiles, e.g. "
               "cg; empty = the daemon matches the executable, else its default request)",
               OPAL_INFO_LVL_3, &g_profile, "");
    reg_int("threads_per_rank",
            "CPUs each rank asks for (0 = OMP_NUM_THREADS, else 1); the job asks for local ranks "
            "x this",
            OPAL_INFO_LVL_3, &g_threads_per_rank, 0);
    reg_string("binding",
               "When mpirun already bound the ranks (--bind-to core is the default for np <= 2): "
               "takeover = re-bind each rank to its vtasos share; respect = keep mpirun's "
               "binding, do not place the job and say to pass --bind-to none",
               OPAL_INFO_LVL_3, &g_binding, "takeover");
    reg_int("timeout",
            "Milliseconds MPI_Init may spend in the hook at most (connecting, waiting for the "
            "other local ranks); past it the rank runs without placement",
            OPAL_INFO_LVL_3, &g_timeout_ms, 3000);
    // Inherit the framework's verbosity, like Open MPI's own hooks.
    g_verbose = ompi_hook_base_framework.framework_verbose > 0
                    ? ompi_hook_base_framework.framework_verbose
                    : 0;
    (void)mca_base_component_var_register(
        &mca_hook_vtasos_component.hookm_version, "verbose",
        "0 = quiet (warnings only), 1 = one line per rank (placement or why none), 2 = details",
        MCA_BASE_VAR_TYPE_INT, nullptr, 0, kNoFlags, OPAL_INFO_LVL_3, MCA_BASE_VAR_SCOPE_READONLY,
        &g_verbose);
    return OMPI_SUCCESS;
}

int component_open(void) {
    try {
        auto cfg = vtasos::mpi::validate(vtasos::mpi::current_params());
        bool on = cfg.enable == vtasos::mpi::Enable::kYes ||
                  (cfg.enable == vtasos::mpi::Enable::kAuto &&
                   vtasos::mpi::selected_by_framework(vtasos::mpi::framework_selection()));
        g_state.active = on;
        g_state.verbose = cfg.verbose;
        // Not asked for: leave the framework, so Open MPI unloads us (no cost).
        return on ? OMPI_SUCCESS : OMPI_ERR_NOT_AVAILABLE;
    } catch (...) {
        g_state.active = false;
        return OMPI_ERR_NOT_AVAILABLE;
    }
}

int component_close(void) { return OMPI_SUCCESS; }

}  // namespace

namespace vtasos::mpi {

ComponentState& component_state() { return g_state; }

RawParams current_params() {
    RawParams r;
    r.enable = g_enable ? g_enable : "";
    r.socket = g_socket ? g_socket : "";
    r.profile = g_profile ? g_profile : "";
    r.binding = g_binding ? g_binding : "";
    r.threads_per_rank = g_threads_per_rank;
    r.verbose = g_verbose;
    r.timeout_ms = g_timeout_ms;
    return r;
}

std::string framework_selection() {
    const char* s = ompi_hook_base_framework.framework_selection;
    return s ? s : "";
}

}  // namespace vtasos::mpi

ompi_hook_base_component_1_0_0_t mca_hook_vtasos_component = {
    .hookm_version =
        {
            OMPI_HOOK_BASE_VERSION_1_0_0,
            .mca_component_name = "vtasos",
            MCA_BASE_MAKE_VERSION(component, 0, 1, 0),
            .mca_open_component = component_open,
            .mca_close_component = component_close,
            .mca_query_component = nullptr,
            .mca_register_component_params = component_register,
            .mca_component_flags = 0,
            .reserved = {0},
        },
    .hookm_data = {.param_field = MCA_BASE_METADATA_PARAM_CHECKPOINT, .reserved = {0}},

    .hookm_mpi_initialized_top = nullptr,
    .hookm_mpi_initialized_bottom = nullptr,
    .hookm_mpi_init_thread_top = nullptr,
    .hookm_mpi_init_thread_bottom = nullptr,
    .hookm_mpi_finalized_top = nullptr,
    .hookm_mpi_finalized_bottom = nullptr,
    .hookm_mpi_init_top = nullptr,
    .hookm_mpi_init_top_post_opal = nullptr,
    .hookm_mpi_init_bottom = init_bottom_trampoline,
    .hookm_mpi_init_error = nullptr,
    .hookm_mpi_finalize_top = finalize_top_trampoline,
    .hookm_mpi_finalize_bottom = nullptr,
};
