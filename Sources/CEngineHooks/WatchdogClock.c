// JavaScriptCore's watchdog (JSContextGroupSetExecutionTimeLimit, our loop guard) reads the thread's
// CPU clock each time the VM is entered from outside: each call into a plugin and each microtask run
// when an entry ends. On Linux that read is a system call (no vDSO for CPU clocks), about 0.4 µs
// here, several times per awaiting event. This file defines clock_gettime for the process: reads of
// CLOCK_THREAD_CPUTIME_ID made from inside libjavascriptcoregtk are answered from CLOCK_MONOTONIC (a
// vDSO read), so the limit counts wall time, as the original's loop guard (Date.now()) did; every
// other call goes to the C library's clock_gettime unchanged.
#define _GNU_SOURCE
#include "CEngineHooks.h"

#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_gettime_function)(clockid_t, struct timespec *);

static _Atomic(clock_gettime_function) libc_clock_gettime;
static _Atomic uintptr_t engine_code_start;
static _Atomic uintptr_t engine_code_end;
static _Thread_local int resolving;

/// The C library's clock_gettime; NULL while it is being looked up on this thread (dlsym may
/// allocate, and the allocator may read a clock).
static clock_gettime_function next_clock_gettime(void) {
    clock_gettime_function function = atomic_load_explicit(&libc_clock_gettime, memory_order_acquire);
    if (function || resolving) return function;
    resolving = 1;
    function = (clock_gettime_function)dlsym(RTLD_NEXT, "clock_gettime");
    resolving = 0;
    if (function) atomic_store_explicit(&libc_clock_gettime, function, memory_order_release);
    return function;
}

int clock_gettime(clockid_t clock, struct timespec *time) {
    if (clock == CLOCK_THREAD_CPUTIME_ID) {
        uintptr_t caller = (uintptr_t)__builtin_return_address(0);
        // The end is published last: once it is seen, so is the start.
        uintptr_t end = atomic_load_explicit(&engine_code_end, memory_order_acquire);
        if (caller < end && caller >= atomic_load_explicit(&engine_code_start, memory_order_relaxed)) {
            clock = CLOCK_MONOTONIC;
        }
    }
    clock_gettime_function function = next_clock_gettime();
    if (!function) return (int)syscall(SYS_clock_gettime, clock, time);
    return function(clock, time);
}

struct code_range {
    uintptr_t address;
    uintptr_t start;
    uintptr_t end;
};

/// Finds the loaded object holding `address` and the span of its executable segments.
static int find_code(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct code_range *range = data;
    int holds = 0;
    uintptr_t start = UINTPTR_MAX, end = 0;
    for (int index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[index];
        if (header->p_type != PT_LOAD) continue;
        uintptr_t low = info->dlpi_addr + header->p_vaddr, high = low + header->p_memsz;
        if (range->address >= low && range->address < high) holds = 1;
        if (header->p_flags & PF_X) {
            if (low < start) start = low;
            if (high > end) end = high;
        }
    }
    if (!holds || end == 0) return 0;
    range->start = start;
    range->end = end;
    return 1;
}

int watchdog_clock_install(void) {
    if (watchdog_clock_installed()) return 1;
    void *engine_symbol = dlsym(RTLD_DEFAULT, "JSContextGroupSetExecutionTimeLimit");
    if (!engine_symbol || !next_clock_gettime()) return 0;
    struct code_range range = {(uintptr_t)engine_symbol, 0, 0};
    if (!dl_iterate_phdr(find_code, &range)) return 0;
    atomic_store_explicit(&engine_code_start, range.start, memory_order_relaxed);
    atomic_store_explicit(&engine_code_end, range.end, memory_order_release);
    return 1;
}

int watchdog_clock_installed(void) {
    return atomic_load_explicit(&engine_code_end, memory_order_acquire) != 0;
}
