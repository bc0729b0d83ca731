/**
 * Workload usage end to end over real HTTPS: the admission listener with client-certificate
 * authentication (openssl-made CA, API server client certificate, server pair), the real Gate judging
 * from a real SQLite store, and the monitor. A pod a ReplicaSet controller creates for an image is
 * admitted; later an advisory is published and the monitor re-judges the image; the affected query,
 * the image's report and `pushgate affected`'s table name the ReplicaSet. A dry run and a caller
 * without the client certificate's trust are not recorded.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import express from 'express';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WorkloadRecorder } from '../../../src/admission/workload-usage.js';
import { affectedTable } from '../../../src/cli/commands/monitor.js';
import { Gate } from '../../../src/gate/gate.js';
import { Monitor } from '../../../src/monitor/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { createAdminApi } from '../../../src/server/admin-api.js';
import { startAdmissionListener, type AdmissionListener } from '../../../src/server/admission-listener.js';
import { startServer } from '../../../src/server/serve.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { postReview } from '../../helpers/admission-review.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';

const CVE = 'CVE-2018-1002204'; // NSWG-NPM-458, adm-zip < 0.4.9
const VIEWER = 'workload-usage-https-viewer';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

describe('workload usage over HTTPS: a Deployment’s pod, then the affected query lists its workload', function () {
  this.timeout(60_000);
  let dir: string;
  let store: Store;
  let db: VulnDb | undefined;
  let listener: AdmissionListener | undefined;
  let recorder: WorkloadRecorder;
  let apiServer: { cert: Buffer; key: Buffer };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-workloads-'));
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(dir, ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', 'ca.key', '-out', 'ca.crt']);
    openssl(dir, ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.crt']);
    fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
    openssl(dir, ['req', ...ec, '-subj', '/CN=kube-apiserver', '-keyout', 'client.key', '-out', 'client.csr']);
    openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'client.ext', '-out', 'client.crt']);
    apiServer = { cert: fs.readFileSync(path.join(dir, 'client.crt')), key: fs.readFileSync(path.join(dir, 'client.key')) };
  });
  after(async () => {
    await listener?.close();
    await recorder?.close();
    await store?.close();
    db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('records the ReplicaSet for the digest it admitted; the affected answer, GET /images/{digest} and the CLI table list it', async () => {
    // the registry is only named (the pod pins a digest with a stored verdict): no registry request is made
    const config = labGateConfig(dir, [labRegistryConfig('lab', 5999, 'tok')]);
    config.admission.cluster = 'eu-1';
    store = await openStore(config.store.url);
    const policy = defaultPolicy();
    // pushed and judged before the advisory exists: allowed
    db = await buildDb(path.join(dir, 'vulndb.sqlite'), [osvRecord('npm/NSWG-NPM-368.json')]); // lodash only
    const digest = digestOf(7);
    await storeImage(store, { repository: 'shop/zip', tag: 'v1', scan: scanOf(digest, [npmPackage('adm-zip', '0.4.7')]), db, policy });
    db.close();
    db = undefined;

    const gate = new Gate({ config, store, policy, logger: silentLogger });
    recorder = new WorkloadRecorder({ store: store.workloads, cluster: config.admission.cluster, flushIntervalMs: 50 });
    listener = await startAdmissionListener(
      { gate, config: config.admission, workloads: recorder },
      { listen: '127.0.0.1:0', cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), clientCA: path.join(dir, 'ca.crt'), clientNames: ['kube-apiserver'] },
    );
    const review = (o: { dryRun?: boolean; name?: string } = {}) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `u-${Math.random().toString(36).slice(2)}`,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'shop',
        operation: 'CREATE',
        dryRun: o.dryRun ?? false,
        userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
        object: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            generateName: 'web-5d4f8b7c9-',
            namespace: 'shop',
            labels: { app: 'web', 'pod-template-hash': '5d4f8b7c9' },
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: o.name ?? 'web-5d4f8b7c9', uid: '1b2c', controller: true, blockOwnerDeletion: true }],
          },
          spec: { containers: [{ name: 'app', image: `127.0.0.1:5999/shop/zip@${digest}` }] },
        },
      },
    });
    expect((await postReview(listener.port, review(), apiServer)).allowed).to.equal(true);
    expect((await postReview(listener.port, review({ dryRun: true, name: 'dry-rs' }), apiServer)).allowed, 'a dry run is answered').to.equal(true);
    // without a client certificate the handshake fails: nothing can be recorded by a stranger
    await postReview(listener.port, review({ name: 'stranger-rs' })).then(() => expect.fail('served without a client certificate'), (e: Error) => expect(e).to.be.an('error'));
    await recorder.flush();

    // the advisory is published; the monitor re-judges the stored image from its inventory
    db = await buildDb(path.join(dir, 'vulndb.sqlite'), [osvRecord('npm/NSWG-NPM-368.json'), osvRecord('npm/NSWG-NPM-458.json')]);
    const mon = new Monitor({ store, logger: silentLogger, vulndb: () => db, policy: () => policy });
    await mon.all();
    const a = await mon.affected(CVE);
    expect(a.images.map((i) => i.digest)).to.deep.equal([digest]);
    expect(a.images[0].workloadCount).to.equal(1);
    expect(a.images[0].workloads.map((w) => [w.cluster, w.namespace, w.kind, w.name])).to.deep.equal([['eu-1', 'shop', 'ReplicaSet', 'web-5d4f8b7c9']]);
    expect(Date.parse(a.images[0].workloads[0].lastSeen)).to.be.closeTo(Date.now(), 60_000);
    expect(affectedTable(a).split('\n')[1]).to.match(/\seu-1:shop\/ReplicaSet\/web-5d4f8b7c9$/);

    // over the admin API: the affected images and the image's report carry the same workloads
    const app = express();
    config.api.tokens = [VIEWER];
    app.use('/api/v1', createAdminApi({ config, gate, store, logger: silentLogger, monitor: mon }));
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
      const get = async (p: string) => (await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${VIEWER}` } })).json() as Promise<Record<string, unknown>>;
      const byApi = (await get(`/vulnerabilities/${CVE}/images`)) as { images: Array<{ workloads: unknown[] }> };
      expect(byApi.images[0].workloads).to.deep.equal(a.images[0].workloads);
      const report = (await get(`/images/${digest}`)) as { workloads: unknown[]; workloadCount: number; findings: unknown[] };
      expect(report.workloads).to.deep.equal(a.images[0].workloads);
      expect(report.workloadCount).to.equal(1);
      expect(report.findings, 'the report is still the report').to.be.an('array');
      const byPackage = (await get('/packages/pkg%3Anpm%2Fadm-zip%400.4.7/images')) as { images: Array<{ workloads: unknown[]; workloadCount: number }> };
      expect(byPackage.images[0].workloads).to.deep.equal(a.images[0].workloads);
      expect(byPackage.images[0].workloadCount).to.equal(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('workload usage through pushgate serve: the admission listener it starts records, flushed within a second', function () {
  this.timeout(30_000);
  it('an authenticated review of a pod is in the store after the flush interval', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-workloads-serve-'));
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(dir, ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', 'ca.key', '-out', 'ca.crt']);
    openssl(dir, ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.crt']);
    fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
    openssl(dir, ['req', ...ec, '-subj', '/CN=kube-apiserver', '-keyout', 'client.key', '-out', 'client.csr']);
    openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'client.ext', '-out', 'client.crt']);
    const config = labGateConfig(dir, [labRegistryConfig('lab', 5999, 'tok')]);
    config.admission.listen = '127.0.0.1:0';
    config.admission.tls = { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') };
    config.admission.clientCA = path.join(dir, 'ca.crt');
    config.admission.clientNames = ['kube-apiserver'];
    const db = await buildDb(path.join(dir, 'vulndb.sqlite'), [osvRecord('npm/NSWG-NPM-368.json')]);
    const store = await openStore(config.store.url);
    const digest = digestOf(3);
    await storeImage(store, { repository: 'shop/zip', tag: 'v1', scan: scanOf(digest, [npmPackage('adm-zip', '0.4.9')]), db, policy: defaultPolicy() });
    await store.close();
    db.close();
    const srv = await startServer(config, silentLogger);
    try {
      const r = await postReview(srv.admissionPort!, {
        apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
        request: {
          uid: 'u-serve', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', operation: 'CREATE', name: 'debug',
          userInfo: { username: 'alice' }, object: { metadata: { name: 'debug', namespace: 'shop' }, spec: { containers: [{ name: 'c', image: `127.0.0.1:5999/shop/zip@${digest}` }] } },
        },
      }, { cert: fs.readFileSync(path.join(dir, 'client.crt')), key: fs.readFileSync(path.join(dir, 'client.key')) });
      expect(r.allowed, JSON.stringify(r)).to.equal(true);
      const deadline = Date.now() + 5000;
      let got;
      while (!(got = (await srv.store.workloads.workloadsOf([digest], 20)).get(digest)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      expect(got?.workloads.map((w) => [w.namespace, w.kind, w.name])).to.deep.equal([['shop', 'Pod', 'debug']]);
    } finally {
      await srv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('workload usage retention: the server prunes records not seen for admission.workloadRetention', function () {
  this.timeout(30_000);
  it('a record last seen before the retention is deleted by the cluster job; a recent one stays', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-workloads-retention-'));
    const config = labGateConfig(dir, []);
    config.admission.workloadRetentionMs = 4000;
    const srv = await startServer(config, silentLogger);
    try {
      const now = Date.now();
      await srv.store.workloads.recordUsage([
        { digest: digestOf(1), cluster: '', namespace: 'shop', kind: 'ReplicaSet', name: 'old', firstSeen: now - 60_000, lastSeen: now - 10_000 },
        { digest: digestOf(1), cluster: '', namespace: 'shop', kind: 'ReplicaSet', name: 'recent', firstSeen: now, lastSeen: now },
      ]);
      const names = async () => ((await srv.store.workloads.workloadsOf([digestOf(1)], 20)).get(digestOf(1))?.workloads ?? []).map((w) => w.name);
      const deadline = Date.now() + 10_000;
      while ((await names()).includes('old') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await names()).to.deep.equal(['recent']);
    } finally {
      await srv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
