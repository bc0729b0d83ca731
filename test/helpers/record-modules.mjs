// Preloaded with `node --import` (plain JavaScript, so it works whether the CLI runs dist/ or the
// TypeScript sources): when the process exits, writes to the file named by PUSHGATE_RECORD_MODULES
// a JSON object `{ esm: string[], cjs: string[] }` of every module the process loaded. ESM:
// every URL the loader resolved (a resolve hook, record-modules-hooks.mjs, posts each one; the
// hooks run on their own thread, so the queue is drained synchronously at exit). CommonJS: every
// file in require.cache (ESM `import` of a CommonJS package and every `require` inside it land
// there; a `require` does not pass the ESM resolve hook in Node 20).
/* global process */
import fs from 'node:fs';
import { createRequire, register } from 'node:module';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';

const out = process.env.PUSHGATE_RECORD_MODULES;
if (out) {
  const { port1, port2 } = new MessageChannel();
  register('./record-modules-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
  const esm = new Set();
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) esm.add(m.message);
    fs.writeFileSync(out, JSON.stringify({ esm: [...esm], cjs: Object.keys(require.cache) }));
  });
  port1.unref();
}
