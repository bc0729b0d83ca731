/**
 * The durable retry of publishing (src/gate/publish-referrers.ts) on a real Distribution registry and a real
 * SQLite store: a publication that fails (the registry unreachable: connection refused on a closed loopback
 * port) leaves the pass's high-water mark where it was and the next pass publishes; a fresh publisher (a
 * restart) catches up over the newest verdicts and finds the referrers current, writing nothing.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../../src/config/types.js';
import type { Digest, ScanReport, Verdict } from '../../../src/core/index.js';
import { GatePublisher } from '../../../src/gate/publish-referrers.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { PUBLISHER_ANNOTATION } from '../../../src/publish/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { makeImage, Raw } from '../../helpers/raw-push.js';

const REG_PORT = 16336;

describe('publishing referrers: a failed publication is retried by the next pass', function () {
  this.timeout(120_000);
  let reg: LabRegistry;
  let store: Store;
  let dir: string;
  let config: PushgateConfig;
  const img = makeImage('good', `publish-retry-${process.pid}`);
  const repo = 'retry/app';
  const results: string[] = [];
  let reachable = false;
  const publisher = () =>
    new GatePublisher({
      config,
      store,
      logger: silentLogger,
      // A closed loopback port while "unreachable": a real connection refused, then the real registry.
      client: () => new RegistryClient({ name: 'lab', url: reachable ? reg.url : 'http://127.0.0.1:1', retries: 0 }),
      host: () => reg.host,
      isQuarantineRepository: () => false,
      rememberDelete: async () => undefined,
      counter: (r) => results.push(r),
    });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pubretry-'));
    const keyFile = path.join(dir, 'k.pem');
    fs.writeFileSync(keyFile, crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    reg = startRegistry(REG_PORT);
    config = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, 'retry-token-0123456789')]);
    config.publish = { referrers: { enabled: true, signingKey: keyFile, retryIntervalMs: 1000 } };
    store = await openStore(`sqlite:${path.join(dir, 'p.db')}`);
    const raw = new Raw(reg.host);
    await raw.pushBlobs(repo, img.blobs);
    expect((await raw.putManifest(repo, 'v1', img)).status).to.equal(201);
  });
  after(async () => {
    await store?.close();
    reg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fails, keeps the mark, succeeds at the next pass; after a restart the catch-up pass writes nothing', async () => {
    const p = publisher();
    expect(await p.pass()).to.deep.equal({ visited: 0, failed: 0, complete: true });
    const mark = p.mark;
    expect(mark).to.equal(0);
    const digest = img.digest as Digest;
    const report = { target: `${reg.host}/${repo}:v1`, digest, packages: [], findings: [], secrets: [], config: [], diagnostics: [], complete: true, verdict: { decision: 'allow', reasons: [], policy: { name: 'p', revision: 'r1' }, complete: true }, vulndb: { builtAt: null }, scannedAt: new Date().toISOString() } as ScanReport;
    const verdict: Verdict = { registry: 'lab', repository: repo, digest, tags: ['v1'], decision: 'allow', complete: true, reasons: [], mode: 'enforce', policy: { name: 'p', revision: 'r1' }, vulndb: { builtAt: null }, evaluatedAt: new Date().toISOString() };
    await store.putReport(digest, report);
    await store.putVerdict(verdict);

    expect(await p.pass()).to.deep.equal({ visited: 1, failed: 1, complete: false });
    expect(p.mark, 'mark kept').to.equal(mark);
    const client = new RegistryClient({ name: 'lab', url: reg.url });
    expect(await client.referrers(repo, digest)).to.deep.equal([]);

    reachable = true;
    expect(await p.pass()).to.deep.equal({ visited: 1, failed: 0, complete: true });
    expect(p.mark, 'mark advanced').to.equal(await store.verdictSeqTop());
    const ours = (await client.referrers(repo, digest)).filter((d) => d.annotations?.[PUBLISHER_ANNOTATION] === 'pushgate');
    expect(ours).to.have.length(3);

    const tagBefore = await client.resolve(repo, digest.replace(':', '-'));
    const restarted = publisher();
    expect(await restarted.pass()).to.deep.equal({ visited: 1, failed: 0, complete: true });
    expect(await restarted.publish(verdict)).to.equal('unchanged');
    expect((await client.resolve(repo, digest.replace(':', '-')))?.digest).to.equal(tagBefore?.digest);
    expect(results).to.deep.equal(['failed', 'published', 'unchanged', 'unchanged']);
  });
});
