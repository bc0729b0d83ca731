/**
 * `pushgate reconcile` refuses, before it queues or enforces anything, a store or a vulnerability database
 * that is not there: run away from serve's directory with serve's --config, it used to create an empty
 * store (every tag "without a verdict") with no database (every scan incomplete) and quarantine images
 * serve had allowed or an admin had released.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { reconcileSummary } from '../../../src/cli/commands/reconcile.js';
import { openStore } from '../../../src/store/index.js';
import { oneLine, runCli } from '../../helpers/cli.js';

describe('CLI: pushgate reconcile refuses a missing store or vulnerability database', function () {
  this.timeout(60_000);
  let dir: string;
  let config: string;
  beforeEach(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-reconcile-')));
    config = path.join(dir, 'pushgate.yaml');
    // a registry nobody listens on: a pass that got as far as listing tags would report it, not refuse
    fs.writeFileSync(config, [
      'store:', '  url: sqlite:./data/pushgate.db', 'vulndb:', '  path: ./data/vulndb.sqlite', '  sources: []',
      'registries:', '  - name: prod', '    url: http://127.0.0.1:9', '    webhook: { token: t-0123456789abcdef }', '',
    ].join('\n'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const extra of [[], ['--no-enforce'], ['--registry', 'prod']]) {
    it(`reconcile ${extra.join(' ')} away from serve's directory: exit 2 naming the store path, nothing created`.replace('  ', ' '), () => {
      const elsewhere = fs.mkdtempSync(path.join(dir, 'cwd-'));
      const line = oneLine(runCli(['reconcile', '--config', config, ...extra], { cwd: elsewhere }), 'reconcile');
      expect(line).to.contain(`no store at ${path.join(elsewhere, 'data', 'pushgate.db')} (store.url of ${config}`);
      expect(fs.readdirSync(elsewhere)).to.deep.equal([]);
    });
  }

  it('without a vulnerability database it refuses to judge and enforce (exit 2, nothing queued); --no-enforce leaves judging to serve and goes on', async () => {
    const store = await openStore(`sqlite:${path.join(dir, 'data', 'pushgate.db')}`);
    await store.close();
    const line = oneLine(runCli(['reconcile', '--config', config], { cwd: dir }), 'reconcile without a database');
    expect(line).to.match(/^pushgate: no vulnerability database/);
    expect(line).to.contain('reconcile judges and enforces here');
    expect(line).to.contain('--no-enforce');
    const queued = await openStore(`sqlite:${path.join(dir, 'data', 'pushgate.db')}`);
    try {
      expect(await queued.queueDepth()).to.equal(0);
    } finally {
      await queued.close();
    }
    // --no-enforce gets as far as the registry (unreachable here): the pass runs and reports it
    const r = runCli(['reconcile', '--config', config, '--no-enforce'], { cwd: dir });
    expect(r.stderr).to.match(/^pushgate: reconcile: prod/m);
    expect(r.stderr).to.not.contain('no vulnerability database');
    expect(r.stderr).to.match(/^pushgate: reconcile: 0 tag\(s\) looked at, 0 queued to be judged/m);
  });
});

describe('CLI: pushgate reconcile summary line', () => {
  it('property: the tags looked at and the tags queued are named apart, never as "N of M without a verdict"', () => {
    fc.assert(
      fc.property(fc.nat({ max: 100_000 }), fc.nat({ max: 100_000 }), fc.nat({ max: 1000 }), (a, b, resumed) => {
        const tags = Math.max(a, b);
        const queued = Math.min(a, b);
        const line = reconcileSummary({ tags, queued, resumed });
        expect(line).to.match(/^pushgate: reconcile: /);
        expect(line).to.include(`${tags} tag(s) looked at, ${queued} queued to be judged`);
        expect(line).to.not.include('without a verdict');
        expect(line).to.not.include('\n');
        if (resumed) expect(line).to.include(`resumed ${resumed} event(s)`);
        else expect(line).to.not.include('resumed');
      }),
      { numRuns: 200 },
    );
  });
});
