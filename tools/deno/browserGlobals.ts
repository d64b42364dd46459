// What the page modules this folder runs expect of a browser and Deno lacks: `window`, on which
// they register themselves, and Chromium's performance.memory, from which the harness reads the heap.

const deno = (globalThis as unknown as { Deno: { memoryUsage(): { heapUsed: number } } }).Deno;
(globalThis as { window?: unknown }).window ??= globalThis;
Object.defineProperty(performance, 'memory', { get: () => ({ usedJSHeapSize: deno.memoryUsage().heapUsed }) });
