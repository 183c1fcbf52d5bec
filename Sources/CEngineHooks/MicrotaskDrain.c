#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include "CEngineHooks.h"

// JavaScriptCore runs pending microtasks when the outermost call into it returns, each as an entry of
// its own, and its watchdog times entries one by one: an endless chain of promise callbacks
// (`while (true) await null`) was never stopped and kept its worker thread for good. Drained from a
// native function at the end of each call instead, they run inside the call's entry and count toward
// its time limit. The entry points used are exported by libjavascriptcoregtk but not part of its C
// API; a context group is the engine's VM itself (JavaScriptCore's APICast).
typedef void (*vm_method)(void *vm);
typedef void (*lock_holder_constructor)(void *holder, void *vm);
typedef void (*lock_holder_destructor)(void *holder);

static vm_method drain_microtasks;
static lock_holder_constructor lock_holder_init;
static lock_holder_destructor lock_holder_deinit;
static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static void resolve(void) {
    vm_method drain = (vm_method)dlsym(RTLD_DEFAULT, "_ZN3JSC2VM15drainMicrotasksEv");
    lock_holder_constructor init = (lock_holder_constructor)dlsym(RTLD_DEFAULT, "_ZN3JSC12JSLockHolderC1EPNS_2VME");
    lock_holder_destructor deinit = (lock_holder_destructor)dlsym(RTLD_DEFAULT, "_ZN3JSC12JSLockHolderD1Ev");
    if (drain && init && deinit) {
        drain_microtasks = drain;
        lock_holder_init = init;
        lock_holder_deinit = deinit;
    }
}

int engine_drain_microtasks(const void *group) {
    pthread_once(&resolved, resolve);
    if (!drain_microtasks || !group) return 0;
    // A JSLockHolder is one reference to the VM; room to spare.
    void *holder[4] = {0, 0, 0, 0};
    lock_holder_init(holder, (void *)group);
    drain_microtasks((void *)group);
    lock_holder_deinit(holder);
    return 1;
}
