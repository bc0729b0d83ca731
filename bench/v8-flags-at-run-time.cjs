// Preloaded (`node -r bench/v8-flags-at-run-time.cjs …`) into the fresh processes a benchmark times
// "with the command line's V8 flags": sets the flags named by BENCH_V8_FLAGS (space-separated) with
// v8.setFlagsFromString, as bin/pushgate.js sets its JIT_FLAGS, once Node has started and before the
// timed script is compiled. Passed on node's own command line instead, the same flags also govern
// Node's bootstrap and V8's set-up (the heap's first semi-spaces, the JIT of Node's internals), which
// a `pushgate` process never runs under: that measured a different process than the one shipped.
/* global process, require */
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS file: `node -r` preloads only those
const v8 = require('node:v8');
const flags = process.env.BENCH_V8_FLAGS;
if (flags) v8.setFlagsFromString(flags);
