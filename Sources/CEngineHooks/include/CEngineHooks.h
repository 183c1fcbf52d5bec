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

#include <stddef.h>

/// From now on, on the calling thread, holds the jobs Swift code hands to the global executor until
/// `worker_resumptions_release`. Returns 0 (and holds nothing) when the runtime has no hook for it.
int worker_resumptions_hold(void);

/// How many jobs the calling thread holds.
size_t worker_resumptions_held(void);

/// Hands the jobs held on the calling thread to the global executor, in order.
void worker_resumptions_release(void);

/// Releases what is held and stops holding on the calling thread.
void worker_resumptions_stop(void);

#endif
