/**
 * Reconcile walks `GET /v2/_catalog?n=<page>`. Distribution 2.8.2+ refuses a page larger than its
 * `catalog.maxentries` (default 1000; lowered by hardening guides since CVE-2023-2253) with 400
 * PAGINATION_NUMBER_INVALID, where a request without `n` gets the registry's own page size and a Link
 * carrying it. pushgate asked for 1000 and gave up: on such a registry every reconcile pass (the periodic
 * one, `pushgate reconcile`, the pass after lost notifications or a registry restart) failed at the catalog,
 * and no push whose notification was lost was ever judged. Real Distribution 2.8 with
 * `REGISTRY_CATALOG_MAXENTRIES`, a real `pushgate serve`; a fast-check property over client page sizes and
 * registry limits: the catalog is every repository, once.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../../src/config/load.js';
import type { PushgateConfig, RegistryConfig } from '../../../src/config/types.js';
import { reconcile } from '../../../src/gate/reconcile.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { silentLogger as silent } from '../../helpers/gate.js';
import { ROOT } from '../../helpers/lab.js';
import { ensureBlob, imageConfig, imageManifest, labClient, makeLayer, registryOn } from '../notifications/helpers.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
/** Registries by `catalog.maxentries`, each on its own port. */
const LIMITS: Array<[number, number]> = [[1, 25964], [2, 25965], [3, 25966], [1000, 25967]];
const REPOS = ['a/one', 'a/two', 'b', 'b/c/d', 'c-x', 'team/app', 'zed'];

describe('registry client: the catalog of a registry whose catalog.maxentries is below the page asked for', function () {
  this.timeout(180_000);
  let dir: string;
  let srv: RunningServer | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-catalog-'));
    const l = await makeLayer({ 'etc/os-release': 'ID=lab\nVERSION_ID=1\n', 'app/hello.txt': 'hello\n' });
    const cfg = imageConfig(l.diffId, 1);
    for (const [max, port] of LIMITS) {
      registryOn('start', path.join(dir, `reg-${max}`), port, [], { REGISTRY_CATALOG_MAXENTRIES: String(max) });
      const c = labClient(`http://127.0.0.1:${port}`);
      for (const repo of REPOS) {
        await ensureBlob(c, repo, l.gz);
        await ensureBlob(c, repo, cfg);
        await c.putManifest(repo, 'v1', imageManifest(cfg, l.gz), OCI);
      }
    }
  });

  after(async () => {
    await srv?.close();
    for (const [max, port] of LIMITS) registryOn('stop', path.join(dir, `reg-${max}`), port);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the registry itself: a page over its limit is refused, no page size is its own', async () => {
    const [, port] = LIMITS[1]!;
    const over = await fetch(`http://127.0.0.1:${port}/v2/_catalog?n=1000`);
    expect(over.status).to.equal(400);
    expect(await over.text()).to.include('PAGINATION_NUMBER_INVALID');
    const own = await fetch(`http://127.0.0.1:${port}/v2/_catalog`);
    expect(own.status).to.equal(200);
    expect(own.headers.get('link')).to.include('n=2');
  });

  it('property: every repository once, whatever page size the client asks for and whatever limit the registry has', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...LIMITS), fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 5000 }), fc.constant(undefined)), async ([, port], pageSize) => {
        const c = new RegistryClient({ name: 'lab', url: `http://127.0.0.1:${port}`, userAgent: 'pushgate-test', ...(pageSize === undefined ? {} : { pageSize }) });
        const got = await c.catalog();
        expect([...got].sort()).to.deep.equal([...REPOS].sort());
        expect(new Set(got).size).to.equal(got.length);
      }),
      { numRuns: 40 },
    );
  });

  it('a reconcile pass over such a registry reads its catalog and queues every tag with no verdict', async () => {
    const [max, port] = LIMITS[1]!;
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = defaultConfig();
    config.server.listen = '127.0.0.1:0';
    config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
    config.vulndb.path = path.join(dir, 'vulndb.sqlite');
    config.vulndb.sources = [];
    const rc: RegistryConfig = { name: 'lab', url: `http://127.0.0.1:${port}`, type: 'distribution', insecure: false, webhook: { token: 'catalog-page-token-0123456789abcdef' }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 8, timeoutMs: 5_000 };
    config.registries = [rc];
    srv = await startServer(config, silent);
    const r = await reconcile({ config, gate: srv.gate, store: srv.store, registry: 'lab' });
    expect(r.errors, `catalog.maxentries ${max}`).to.deep.equal([]);
    expect(r.tags).to.equal(REPOS.length);
    expect(r.queued).to.equal(REPOS.length);
  });
});
