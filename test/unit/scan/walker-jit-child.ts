/**
 * Child process of walker-jit.test.ts, run with `--allow-natives-syntax`: whether V8 keeps its
 * optimized {@link LayerWalker.open} when, after optimizing it, a file first goes to an analyzer that
 * no file went to before. `node --allow-natives-syntax --import tsx walker-jit-child.ts CASE`:
 * - `dpkg`: dpkg's status under /var/lib/dpkg/, as deep into a Debian base layer;
 * - `stream`: the first executable outside the distribution's directories (the cargo-auditable
 *   analyzer's first stream) after executables only under /usr/bin (the go-binary analyzer's).
 * Prints one JSON line: V8's optimization status bits of `open` just after optimizing it and after
 * that file, and the analyzers that ran on it.
 */
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { LayerWalker, type WalkEntry } from '../../../src/scan/walker.js';

// V8 intrinsics, parsed at run time (the flag makes V8's parser accept them; TypeScript would not).
const prepare = new Function('f', '%PrepareFunctionForOptimization(f)') as (f: unknown) => void;
const optimizeNext = new Function('f', '%OptimizeFunctionOnNextCall(f)') as (f: unknown) => void;
const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;

const which = process.argv[2];
if (which !== 'dpkg' && which !== 'stream') throw new Error('usage: walker-jit-child.ts dpkg|stream');
// The analyzers that ran on the last file: each one's stream or analyze is wrapped to say so (before
// the warm-up, so that the analyzers keep one shape throughout).
let last = '';
const ran = new Set<string>();
for (const a of ANALYZERS) {
  if (a.analyze) { const f = a.analyze.bind(a); (a as { analyze: typeof f }).analyze = (input, ctx) => { if (input.path === last) ran.add(a.name); return f(input, ctx); }; }
  if (a.stream) { const f = a.stream.bind(a); (a as { stream: typeof f }).stream = (e, ctx) => { if (e.path === last) ran.add(a.name); return f(e, ctx); }; }
}
const open = LayerWalker.prototype.open;
prepare(open);
const walker = new LayerWalker(ANALYZERS, { version: 'jit', tmpDir: '/nonexistent-unused' });

function add(e: WalkEntry, content?: Buffer): void {
  const sink = walker.open(e);
  if (!sink) return;
  if (content) sink.write(content);
  void sink.end();
}

const text = (n: number) => Buffer.alloc(n, 0x61);
// Files the analyzers asked about every file see (secrets, go-binary, cargo-auditable), buffered
// and streamed, in new and in known directories; directories and links; never under /var/lib/dpkg
// (`dpkg`), no executable outside /usr/bin (`stream`).
function warm(round: number): void {
  add({ name: `opt/r${round}/`, type: 'directory', size: 0, mode: 0o755 });
  for (let i = 0; i < 8; i++) {
    if (which === 'dpkg') add({ name: `opt/r${round}/bin/tool${i}`, type: 'file', size: 2048, mode: 0o755 }, text(2048));
    add({ name: `opt/r${round}/etc/conf${i}.txt`, type: 'file', size: 64, mode: 0o644 }, text(64));
    add({ name: `usr/bin/r${round}x${i}`, type: 'file', size: 2048, mode: 0o755 }, text(2048));
    add({ name: `usr/share/doc/r${round}/f${i}`, type: 'file', size: 10, mode: 0o644 }, text(10));
    add({ name: `opt/r${round}/link${i}`, type: 'symlink', size: 0, mode: 0o777, linkname: `bin/tool${i}` });
  }
}
for (let r = 0; r < 20; r++) warm(r);
optimizeNext(open);
warm(20);
const optimized = status(open);
if (which === 'dpkg') {
  last = '/var/lib/dpkg/status';
  const status1 = 'Package: pushgate-jit\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n\n';
  add({ name: 'var/lib/dpkg/status', type: 'file', size: status1.length, mode: 0o644 }, Buffer.from(status1));
} else {
  last = '/opt/late/tool';
  add({ name: 'opt/late/tool', type: 'file', size: 2048, mode: 0o755 }, text(2048));
}
const after = status(open);
console.log(JSON.stringify({ optimized, after, ran: [...ran].sort() }));
