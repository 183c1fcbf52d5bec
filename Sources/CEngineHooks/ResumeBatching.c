#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include "CEngineHooks.h"

// A plugin worker thread finishing a call hands the waiting task back to Swift's global executor,
// which wakes a pool thread for it: one wake-up (and, on a small machine, one preemption) per event.
// Held back while the worker runs a batch of jobs and handed over together when the batch ends, the
// resumptions of a batch wake the pool once. The global executor's enqueue hook is exported by the
// Swift concurrency runtime for custom executors; without it (or when something else installed a
// hook first) every job goes straight through, as before.
typedef struct SwiftJob SwiftJob;
typedef void (__attribute__((swiftcall)) *enqueue_original)(SwiftJob *job);
typedef void (__attribute__((swiftcall)) *enqueue_hook)(SwiftJob *job, enqueue_original original);

static __thread int holding;
static __thread SwiftJob **held;
static __thread size_t held_count;
static __thread size_t held_capacity;
static __thread enqueue_original held_original;

static void __attribute__((swiftcall)) hold_or_enqueue(SwiftJob *job, enqueue_original original) {
    if (holding) {
        if (held_count == held_capacity) {
            size_t capacity = held_capacity ? held_capacity * 2 : 64;
            SwiftJob **grown = realloc(held, capacity * sizeof(SwiftJob *));
            if (!grown) {
                original(job);
                return;
            }
            held = grown;
            held_capacity = capacity;
        }
        held[held_count++] = job;
        held_original = original;
        return;
    }
    original(job);
}

static int hook_installed;
static pthread_once_t installed_once = PTHREAD_ONCE_INIT;

static void install(void) {
    enqueue_hook *slot = (enqueue_hook *)dlsym(RTLD_DEFAULT, "swift_task_enqueueGlobal_hook");
    if (!slot || *slot) return;
    *slot = hold_or_enqueue;
    hook_installed = 1;
}

int worker_resumptions_hold(void) {
    pthread_once(&installed_once, install);
    if (!hook_installed) return 0;
    holding = 1;
    return 1;
}

size_t worker_resumptions_held(void) { return held_count; }

void worker_resumptions_release(void) {
    for (size_t index = 0; index < held_count; index++) held_original(held[index]);
    held_count = 0;
}

void worker_resumptions_stop(void) {
    worker_resumptions_release();
    holding = 0;
    free(held);
    held = NULL;
    held_capacity = 0;
}
