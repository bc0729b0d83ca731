// Preloaded (`node -r bench/cpu-at-exit.cjs …`) into the fresh processes bench/vulndb-import.ts times as
// a whole, so a command line run as users run it (bin/pushgate.js) is measured without changing it:
// at exit, writes one JSON line to the file named by BENCH_CPU_OUT:
//   {"ms": …, "cpuMs": …, "bootMs": …, "bootCpuMs": …}
// `ms`/`cpuMs`: wall time since the process started and its CPU time (user + system, every thread: the
// main thread, V8's compiler and GC threads, libuv's) at exit; `bootMs`/`bootCpuMs`: the same when this
// file ran, i.e. Node's own start-up, before any code of the command (the same for every command).
/* global process, performance, require */
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS file: `node -r` preloads only those
const fs = require('node:fs');
const boot = process.cpuUsage();
const bootMs = performance.now();
const out = process.env.BENCH_CPU_OUT;
if (out) {
  process.on('exit', () => {
    const c = process.cpuUsage();
    fs.writeFileSync(out, `${JSON.stringify({ ms: performance.now(), cpuMs: (c.user + c.system) / 1000, bootMs, bootCpuMs: (boot.user + boot.system) / 1000 })}\n`);
  });
}
