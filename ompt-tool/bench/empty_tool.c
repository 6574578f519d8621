/* An OMPT tool that does nothing, for the overhead baseline (README.md
 * "Overhead"): what libomp's OMPT machinery costs before any tool code runs.
 *   VTASOS_EMPTY_TOOL=none  initialize registers no callback (default)
 *   VTASOS_EMPTY_TOOL=sync  empty sync_region + sync_region_wait callbacks
 *   VTASOS_EMPTY_TOOL=all   empty versions of every callback libvtasos-ompt sets
 * Load it like the real tool: OMP_TOOL_LIBRARIES=libvtasos-ompt-empty.so. */
#include <omp-tools.h>
#include <stdlib.h>
#include <string.h>

static void empty(void) {}

static int initialize(ompt_function_lookup_t lookup, int dev, ompt_data_t* data) {
    (void)dev;
    (void)data;
    const char* mode = getenv("VTASOS_EMPTY_TOOL");
    if (!mode || strcmp(mode, "none") == 0) return 1;
    ompt_set_callback_t set = (ompt_set_callback_t)lookup("ompt_set_callback");
    if (!set) return 0;
    static const ompt_callbacks_t sync[] = {ompt_callback_sync_region,
                                            ompt_callback_sync_region_wait};
    static const ompt_callbacks_t all[] = {
        ompt_callback_thread_begin,     ompt_callback_thread_end,     ompt_callback_parallel_begin,
        ompt_callback_parallel_end,     ompt_callback_implicit_task,  ompt_callback_sync_region,
        ompt_callback_sync_region_wait, ompt_callback_reduction,      ompt_callback_mutex_acquire,
        ompt_callback_mutex_acquired,   ompt_callback_mutex_released, ompt_callback_work,
        ompt_callback_task_create,      ompt_callback_task_schedule};
    int use_all = strcmp(mode, "all") == 0;
    const ompt_callbacks_t* list = use_all ? all : sync;
    size_t n = use_all ? sizeof all / sizeof all[0] : sizeof sync / sizeof sync[0];
    for (size_t i = 0; i < n; ++i) set(list[i], (ompt_callback_t)&empty);
    return 1;
}

static void finalize(ompt_data_t* data) { (void)data; }

ompt_start_tool_result_t* ompt_start_tool(unsigned int omp_version, const char* runtime_version) {
    (void)omp_version;
    (void)runtime_version;
    static ompt_start_tool_result_t r = {&initialize, &finalize, {0}};
    return &r;
}
