#ifndef CWATCHDOGCLOCK_H
#define CWATCHDOGCLOCK_H

/// Makes JavaScriptCore's watchdog (the plugin loop guard) measure wall time: its reads of the
/// thread's CPU clock are answered from CLOCK_MONOTONIC. Idempotent; returns 1 once in force.
int watchdog_clock_install(void);

/// 1 when JavaScriptCore's CPU clock reads are answered from CLOCK_MONOTONIC.
int watchdog_clock_installed(void);

#endif
