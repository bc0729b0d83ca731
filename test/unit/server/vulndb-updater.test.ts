/**
 * A fresh install serves at once: `pushgate serve` (in-process, real HTTP, real SQLite store) with no
 * vulnerability database and configured sources builds one at start and /readyz turns 200 without waiting
 * for the update interval; a first build that fails is retried with backoff, and /readyz says why meanwhile.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startServer } from '../../../src/server/serve.js';
import { VulnDbUpdater } from '../../../src/server/vulndb-updater.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, silentLogger } from '../../helpers/gate.js';
import { ROOT } from '../../helpers/lab.js';

const OSV = path.join(ROOT, 'test/fixtures/vulndb/osv');

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('serve: the vulnerability database on a fresh install', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-fresh-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is built at start from the configured sources; /readyz turns ready long before the update interval', async () => {
    const config = labGateConfig(dir, []);
    config.vulndb.sources = [OSV];
    config.vulndb.updateIntervalMs = 6 * 3_600_000;
    expect(fs.existsSync(config.vulndb.path)).to.equal(false);
    const srv = await startServer(config, silentLogger);
    try {
      const url = `http://127.0.0.1:${srv.port}/readyz`;
      const res = await fetch(url);
      const first = (await res.json()) as { vulndb: unknown };
      // The fixtures build in well under a second: the first answer is either the build in progress or ready.
      if (res.status !== 200) expect(String(first.vulndb), JSON.stringify(first)).to.match(/building it now/);
      const ready = await waitFor('ready', async () => {
        const r = await fetch(url);
        return r.status === 200 ? ((await r.json()) as { vulndb: { builtAt: string } }) : undefined;
      });
      expect(ready.vulndb.builtAt).to.be.a('string');
      expect(fs.existsSync(config.vulndb.path)).to.equal(true);
    } finally {
      await srv.close();
    }
  });

  it('a first build that fails is retried without waiting for the interval, and readiness says why', async () => {
    // A source on a loopback port nobody listens on: the real download path fails as offline would.
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const config = labGateConfig(dir, []);
    config.vulndb.sources = [`http://127.0.0.1:${port}/Debian/all.zip`];
    config.vulndb.updateIntervalMs = 6 * 3_600_000;
    let builds = 0;
    let hasDb = false;
    const updater = new VulnDbUpdater({
      config,
      logger: silentLogger,
      hasDatabase: () => hasDb,
      firstRetryMs: 500,
      build: async (o) => {
        builds++;
        // From the second try on the source is reachable again (here: the offline fixtures).
        return builds === 1 ? updateDb(o) : updateDb({ ...o, sources: [OSV] });
      },
    });
    const t0 = Date.now();
    updater.start();
    await waitFor('first failure', async () => (builds === 1 && updater.note()?.includes('failed') ? true : undefined));
    expect(updater.note()).to.match(/the last build failed \(.*127\.0\.0\.1/);
    await waitFor('retry', async () => (builds === 2 && !updater.note() ? true : undefined), 20_000);
    hasDb = true;
    updater.stop();
    // Retried after the first backoff step, not after the 6 h interval.
    expect(Date.now() - t0).to.be.below(20_000);
    expect(fs.existsSync(config.vulndb.path)).to.equal(true);
  });
});
