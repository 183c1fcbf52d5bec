#ifndef CJAVASCRIPTCORE_SHIM_H
#define CJAVASCRIPTCORE_SHIM_H

#include <JavaScriptCore/JavaScript.h>

// Exported by libjavascriptcoregtk but declared only in JSContextRefPrivate.h, which is not installed.
typedef bool (*JSShouldTerminateCallback)(JSContextRef ctx, void *context);
JS_EXPORT void JSContextGroupSetExecutionTimeLimit(JSContextGroupRef group, double limit,
                                                   JSShouldTerminateCallback callback, void *context);
JS_EXPORT void JSContextGroupClearExecutionTimeLimit(JSContextGroupRef group);

// Exported, declared only in JSBasePrivate.h: a full collection now (JSGarbageCollect only asks for one).
JS_EXPORT void JSSynchronousGarbageCollectForDebugging(JSContextRef ctx);

// glibc's, declared by <pthread.h> only under _GNU_SOURCE: names the worker threads for top -H and profilers.
#include <pthread.h>
int pthread_setname_np(pthread_t thread, const char *name);

#endif
