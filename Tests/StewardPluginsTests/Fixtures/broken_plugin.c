/*
 * broken_plugin.c -- one plugin, one defect per build.
 *
 * The tests compile this file once per defect with -DBREAK_<DEFECT> (and once with
 * -DBREAK_NOTHING, a control build that must load). Each build is a real shared library the host has
 * to refuse with a named error. The plugin counts calls of its init in a second exported
 * symbol, fixture_init_calls, so the tests can prove that a refused plugin never had any
 * of its code run past stw_plugin_entry.
 */
#include "steward_abi.h"

static int init_calls;

/* Not part of the ABI: lets the tests read how often the host ran init. */
STW_EXPORT int fixture_init_calls(void);
STW_EXPORT int fixture_init_calls(void) { return init_calls; }

static stw_status plugin_init(const stw_host *host, void **state_out) {
    (void)host;
    init_calls++;
    *state_out = NULL;
#if defined(BREAK_INIT_FAILS)
    return STW_ERR_PERMANENT;
#else
    return STW_OK;
#endif
}

static stw_status ok_step(const stw_step_call *call, stw_step_result *result) {
    return stw_step_output(call->host, result, "{\"ok\":true}", 11);
}

/* ---- the step structs ------------------------------------------------------------ */

#if defined(BREAK_STEP_SIZE) /* built against a header whose stw_step lacked invoke */
#define STEP_HEADER { (uint32_t)offsetof(stw_step, invoke), STW_ABI_VERSION_MAJOR, 0 }
#elif defined(BREAK_STEP_MINOR) /* built against a newer 1.x header */
#define STEP_HEADER { (uint32_t)sizeof(stw_step), STW_ABI_VERSION_MAJOR, STW_ABI_VERSION_MINOR + 1 }
#else
#define STEP_HEADER STW_STRUCT_HEADER(stw_step)
#endif

#if defined(BREAK_NULL_INVOKE)
#define SECOND_INVOKE NULL
#else
#define SECOND_INVOKE ok_step
#endif

#if defined(BREAK_DUPLICATE_STEP)
#define SECOND_NAME "first"
#else
#define SECOND_NAME "second"
#endif

#if defined(BREAK_NULL_STEP_VERSION)
#define SECOND_VERSION NULL
#else
#define SECOND_VERSION "1.0.0"
#endif

static const stw_step first_step = {STEP_HEADER, "first", "1.0.0", "A step that works", 0, ok_step};
static const stw_step second_step = {STEP_HEADER, SECOND_NAME, SECOND_VERSION, NULL, 0, SECOND_INVOKE};

#if defined(BREAK_NULL_STEP_POINTER)
static const stw_step *const steps[] = {&first_step, NULL};
#else
static const stw_step *const steps[] = {&first_step, &second_step};
#endif

/* ---- the plugin descriptor -------------------------------------------------------- */

#if defined(BREAK_ABI_MAJOR) /* built against a (future) ABI 2 header */
#define PLUGIN_HEADER { (uint32_t)sizeof(stw_plugin), 2, 0 }
#elif defined(BREAK_PLUGIN_MINOR) /* built against the next 1.x header, newer than this host */
#define PLUGIN_HEADER { (uint32_t)sizeof(stw_plugin), 1, STW_ABI_VERSION_MINOR + 1 }
#elif defined(BREAK_PLUGIN_SIZE) /* built against a header whose stw_plugin lacked get_extension */
#define PLUGIN_HEADER { (uint32_t)offsetof(stw_plugin, get_extension), STW_ABI_VERSION_MAJOR, 0 }
#else
#define PLUGIN_HEADER STW_STRUCT_HEADER(stw_plugin)
#endif

#if defined(BREAK_NULL_NAME)
#define PLUGIN_NAME NULL
#elif defined(BREAK_BAD_NAME)
#define PLUGIN_NAME "Broken Plugin"
#else
#define PLUGIN_NAME "broken"
#endif

#if defined(BREAK_NULL_STEPS)
#define STEP_ARRAY NULL
#else
#define STEP_ARRAY steps
#endif

static const stw_plugin plugin = {
    PLUGIN_HEADER, PLUGIN_NAME, "1.0.0", "A plugin with exactly one defect",
    plugin_init, 2, STEP_ARRAY, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */,
};

/* ---- the entry ---------------------------------------------------------------------- */

#if defined(BREAK_NO_EXPORT)
/* The classic mistake: built with -fvisibility=hidden and no STW_EXPORT, so dlsym finds nothing. */
stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out);
stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
#else
STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
#endif
    (void)host;
    /* Every variant uses every struct, so no build warns about unused data. */
    (void)&second_step;
    (void)&steps;
    (void)&plugin;
#if defined(BREAK_ENTRY_INCOMPATIBLE)
    (void)out;
    return STW_ERR_INCOMPATIBLE;
#elif defined(BREAK_ENTRY_NULL)
    *out = NULL;
    return STW_OK;
#else
    *out = &plugin;
    return STW_OK;
#endif
}
