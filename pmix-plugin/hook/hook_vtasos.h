/* mca_hook_vtasos: the Open MPI hook component that places each MPI job's
 * ranks on this node through vtasosd (see ../README.md).
 *
 * Open MPI calls the component at two points only:
 *   init-bottom   (MPI_Init/MPI_Init_thread, all MPI usable): read the PMIx
 *                 facts, join the job tenant, bind the rank to its share;
 *   finalize-top  (MPI_Finalize, before anything is torn down): give the
 *                 share back.
 * Every other slot is NULL. Global state lives in hook_vtasos_component.cpp
 * only; the behaviour is in internal/session.* and driven from _fns.cpp.
 */
#ifndef MCA_HOOK_VTASOS_H
#define MCA_HOOK_VTASOS_H

#include "ompi/mca/hook/hook.h"
#include "ompi_config.h"

BEGIN_C_DECLS

/* The component structure Open MPI looks up by name when it dlopens
 * mca_hook_vtasos.so; the only exported symbol. */
OMPI_DECLSPEC extern ompi_hook_base_component_1_0_0_t mca_hook_vtasos_component;

END_C_DECLS

#ifdef __cplusplus
#include <string>

namespace vtasos::mpi {
struct RawParams;

// Component state shared by the two files (defined in _component.cpp).
struct ComponentState {
    bool active = false;  // decided in open: enable and selection
    int verbose = 0;
};
ComponentState& component_state();
// The MCA parameter values as Open MPI holds them now.
RawParams current_params();
// The hook framework's selection string (the `hook` MCA parameter).
std::string framework_selection();

// Hook bodies (hook_vtasos_fns.cpp); never throw.
void hook_init_bottom(int argc, char** argv, int requested, int* provided);
void hook_finalize_top();
}  // namespace vtasos::mpi
#endif

#endif /* MCA_HOOK_VTASOS_H */
