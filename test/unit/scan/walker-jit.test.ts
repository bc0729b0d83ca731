/**
 * The layer walker's hot path as V8 compiles it: LayerWalker.open is the largest function V8
 * optimizes in a layer scan (its compile was the biggest job of V8's compiler threads on the Debian
 * lab layer), and each time V8 throws that code away it runs unoptimized until it compiles it again.
 * The analyzers are objects of many shapes, asked about files in an order the layer decides: a file
 * that first goes to an analyzer after `open` was optimized must not make V8 discard it. Checked
 * with V8's own status bits, in a child process started with `--allow-natives-syntax`
 * (walker-jit-child.ts); no timing.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../../helpers/lab.js';

/** V8's OptimizationStatus bit for a function with optimized code (src/runtime/runtime.h). */
const OPTIMIZED = 1 << 4;

/** Runs walker-jit-child.ts on `which`: V8's status bits of `open` after the warm-up and after the late file. */
function child(which: 'dpkg' | 'stream'): { optimized: number; after: number; ran: string[] } {
  // --no-concurrent-recompilation: `%OptimizeFunctionOnNextCall` compiles on the calling thread. With
  // V8's compiler threads, a function already queued for a concurrent compile (hot from the warm-up)
  // is still "optimizing concurrently" when its status is read, and the check reads nothing.
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '--import', 'tsx', path.join(ROOT, 'test/unit/scan/walker-jit-child.ts'), which], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { optimized: number; after: number; ran: string[] };
}

describe('scan: the walker as V8 compiles it', () => {
  it('keeps the optimized LayerWalker.open when a file first goes to an analyzer no file went to before (dpkg under /var/lib/dpkg)', function () {
    this.timeout(60_000);
    const out = child('dpkg');
    expect(out.optimized & OPTIMIZED, 'open is optimized after the warm-up (the check itself works)').to.not.equal(0);
    expect(out.ran, 'the file did reach dpkg').to.include('os/dpkg');
    expect(out.after & OPTIMIZED, `open still optimized after the first dpkg file (status ${out.after.toString(2)})`).to.not.equal(0);
  });

  it('keeps it when a second streaming analyzer first takes a file (the first executable outside /usr/bin after many inside)', function () {
    this.timeout(60_000);
    const out = child('stream');
    expect(out.optimized & OPTIMIZED, 'open is optimized after the warm-up (the check itself works)').to.not.equal(0);
    expect(out.ran, 'the file did reach both streaming analyzers').to.include.members(['lang/cargo-auditable', 'lang/go-binary']);
    expect(out.after & OPTIMIZED, `open still optimized after the first cargo-auditable stream (status ${out.after.toString(2)})`).to.not.equal(0);
  });
});
