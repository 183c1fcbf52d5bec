#ifndef CENGINEHOOKS_H
#define CENGINEHOOKS_H

// Hooks into JavaScriptCore beyond its C API, each looked up at run time: without them the plugin
// runtime works as before, less guarded.

/// Makes JavaScriptCore's watchdog (the plugin loop guard) measure wall time: its reads of the
/// thread's CPU clock are answered from CLOCK_MONOTONIC. Idempotent; returns 1 once in force.
int watchdog_clock_install(void);

/// 1 when JavaScriptCore's CPU clock reads are answered from CLOCK_MONOTONIC.
int watchdog_clock_installed(void);

/// Runs the engine's pending microtasks now, inside the running entry into JavaScript (called from a
/// native function). Returns 0 when the engine does not export what this needs.
int engine_drain_microtasks(const void *group);

#endif
