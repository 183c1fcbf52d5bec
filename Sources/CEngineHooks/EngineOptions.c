// JavaScriptCore options the plugin runtime depends on. The engine reads them from the environment
// once, when it first initializes (any JSString made initializes it), so they are set when the
// program loads, before any code can touch the engine.
#define _GNU_SOURCE
#include <stdlib.h>

// Polling traps: optimized code checks for the watchdog's stop request at every loop back edge. With
// the default signal traps a stop request is acted on only when the signal lands in JIT-compiled
// code, so a loop spending its time in the engine's own C++ (`while (true) Date.now()`,
// `JSON.stringify` in a loop) was never stopped and held its worker forever.
__attribute__((constructor)) static void engine_options(void) { setenv("JSC_usePollingTraps", "true", 1); }
