/**
 * The V8 flags bin/pushgate.js sets for a one-shot command (its JIT_FLAGS, set with
 * v8.setFlagsFromString once V8 runs): GC tuning that V8 takes at run time, never a flag that only
 * works on node's command line (`--single-threaded-gc` set that way aborts the process in its next
 * full GC).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';

function jitFlags(): string {
  const m = /^const JIT_FLAGS = '([^']*)';$/m.exec(fs.readFileSync(path.join(ROOT, 'bin/pushgate.js'), 'utf8'));
  if (!m) throw new Error('bin/pushgate.js: no JIT_FLAGS constant');
  return m[1];
}

describe('cli: V8 flags of a one-shot command', function () {
  this.timeout(60_000);

  it('grows the young generation 8× at a time (fewer scavenges, fewer objects promoted into full GCs)', () => {
    expect(jitFlags().split(' ')).to.include('--semi-space-growth-factor=8');
  });

  it('are taken at run time: a process that sets them, then allocates through scavenges and full GCs, exits cleanly with its work done', () => {
    const script = `
      const v8 = require('node:v8');
      v8.setFlagsFromString(${JSON.stringify(jitFlags())});
      const keep = [];
      let sum = 0;
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 20000; i++) keep.push({ i, s: 'x' + i, b: Buffer.alloc(64) });
        if (round % 8 === 7) { global.gc(); keep.length = 0; }
        sum += keep.length;
      }
      process.stdout.write(String(sum));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(String([...Array(40).keys()].reduce((n, round) => n + (round % 8 === 7 ? 0 : ((round % 8) + 1) * 20000), 0)));
  });
});
