import { expect } from 'chai';
import express from 'express';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Digest, Package } from '../../../src/core/index.js';
import fc from 'fast-check';
import { Monitor } from '../../../src/monitor/index.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { matchesPurlQuery, parsePurlQuery } from '../../../src/monitor/purl-query.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { addMonitorRoutes } from '../../../src/server/monitor-api.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function deb(name: string, version: string, sourceName?: string): Package {
  return {
    ecosystem: 'Debian', name, version, ...(sourceName ? { sourceName } : {}), arch: 'amd64', path: '/var/lib/dpkg/status',
    purl: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=amd64`, analyzer: 'os/dpkg',
  };
}

describe('monitor: package URL queries', () => {
  it('parses language and OS purls into the index pairs the matcher uses', () => {
    expect(parsePurlQuery('pkg:npm/lodash@4.17.15')).to.deep.include({ ecosystem: 'npm', name: 'lodash', version: '4.17.15', pairs: ['npm:lodash'], stem: 'pkg:npm/lodash' });
    expect(parsePurlQuery('pkg:npm/%40babel/core')).to.deep.include({ name: '@babel/core', pairs: ['npm:@babel/core'] });
    expect(parsePurlQuery('pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1').name).to.equal('org.apache.logging.log4j:log4j-core');
    expect(parsePurlQuery('pkg:pypi/Django@4.2').pairs).to.deep.equal(['pypi:django']);
    const os1 = parsePurlQuery('pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl');
    expect(os1).to.deep.include({ ecosystem: 'Debian', name: 'libssl3', sourceName: 'openssl', version: '3.0.11-1~deb12u2' });
    expect(os1.pairs.sort()).to.deep.equal(['debian:libssl3', 'debian:openssl']);
    expect(parsePurlQuery('pkg:deb/debian/dpkg@1.21?epoch=1').version).to.equal('1:1.21');
  });

  it('refuses what is not a purl, or a type pushgate does not inventory, saying what is supported', () => {
    expect(() => parsePurlQuery('lodash@4')).to.throw(/not a package URL.*pkg:npm\/lodash/);
    expect(() => parsePurlQuery('pkg:hex/phoenix@1.7')).to.throw(/does not inventory purl type "hex"; supported: npm/);
    expect(() => parsePurlQuery('pkg:deb/raspbian/x@1')).to.throw(/deb packages of "raspbian"/);
  });

  it('matches by purl without version and qualifiers; an OS source name finds its binary packages; a version must be equal', () => {
    const ssl = deb('libssl3', '3.0.11-1~deb12u2', 'openssl');
    expect(matchesPurlQuery(parsePurlQuery('pkg:deb/debian/libssl3'), ssl)).to.equal(true);
    expect(matchesPurlQuery(parsePurlQuery('pkg:deb/debian/openssl'), ssl)).to.equal(true);
    expect(matchesPurlQuery(parsePurlQuery('pkg:deb/debian/openssl@3.0.11-1~deb12u2'), ssl)).to.equal(true);
    expect(matchesPurlQuery(parsePurlQuery('pkg:deb/debian/openssl@3.0.9-1'), ssl)).to.equal(false);
    expect(matchesPurlQuery(parsePurlQuery('pkg:deb/debian/libssl3?upstream=openssl'), deb('openssl', '3.0.11-1~deb12u2', 'openssl')), 'upstream names the source, the name the binary').to.equal(false);
    expect(matchesPurlQuery(parsePurlQuery('pkg:npm/lodash@4.17.15'), npmPackage('lodash', '4.17.15'))).to.equal(true);
    expect(matchesPurlQuery(parsePurlQuery('pkg:npm/lodash@4.17.21'), npmPackage('lodash', '4.17.15'))).to.equal(false);
    expect(matchesPurlQuery(parsePurlQuery('pkg:npm/lodash'), npmPackage('lodash.merge', '4.6.2'))).to.equal(false);
  });

  describe('Monitor.packageImages and GET /api/v1/packages/{purl}/images (SQLite store, real HTTP)', function () {
    this.timeout(60_000);
    let store: Store;
    let dir: string;
    let db: VulnDb | undefined;
    let server: ReturnType<express.Express['listen']> | undefined;
    beforeEach(async () => {
      store = await openStore('sqlite::memory:');
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-purl-'));
      db = await buildDb(path.join(dir, 'vulndb.sqlite'), [osvRecord('npm/NSWG-NPM-368.json')]);
      const policy = defaultPolicy();
      await storeImage(store, { repository: 'team/a', tag: 'v1', scan: scanOf(digestOf(1), [npmPackage('lodash', '4.17.15'), deb('libssl3', '3.0.11-1~deb12u2', 'openssl')]), db, policy });
      await storeImage(store, { repository: 'team/b', tag: 'v2', scan: scanOf(digestOf(2), [npmPackage('lodash', '4.17.21'), npmPackage('lodash', '4.17.15', '/app/node_modules/x/node_modules/lodash/package.json')]), db, policy });
      await storeImage(store, { repository: 'team/c', tag: 'v3', scan: scanOf(digestOf(3), [npmPackage('left-pad', '1.3.0'), deb('openssl', '3.0.11-1~deb12u2', 'openssl')]), db, policy });
    });
    afterEach(async () => {
      await new Promise((r) => (server ? server.close(r) : r(undefined)));
      server = undefined;
      db?.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const monitorOf = () => new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => defaultPolicy() });

    it('finds every image holding the package, with its instances and the repositories and tags that hold it', async () => {
      const mon = monitorOf();
      const any = await mon.packageImages('pkg:npm/lodash');
      expect(any.images.map((i) => i.digest)).to.deep.equal([digestOf(1), digestOf(2)]);
      expect(any.images[1].packages.map((p) => `${p.version} ${p.path}`)).to.have.members(['4.17.21 /app/node_modules/lodash/package.json', '4.17.15 /app/node_modules/x/node_modules/lodash/package.json']);
      expect(any.images[0].verdicts).to.deep.equal([{ registry: 'lab', repository: 'team/a', tags: ['v1'], decision: any.images[0].verdicts[0].decision }]);
      const exact = await mon.packageImages('pkg:npm/lodash@4.17.21');
      expect(exact.images.map((i) => i.digest)).to.deep.equal([digestOf(2)]);
      expect(exact.images[0].packages).to.have.length(1);
      const bySource = await mon.packageImages('pkg:deb/debian/openssl');
      expect(bySource.images.map((i) => i.digest)).to.deep.equal([digestOf(1), digestOf(3)]);
      expect(bySource.images[0].packages[0]).to.include({ name: 'libssl3', sourceName: 'openssl', version: '3.0.11-1~deb12u2' });
      expect((await mon.packageImages('pkg:npm/react')).images).to.deep.equal([]);
    });

    it('the route takes the purl percent-encoded or with its slashes, and answers 400 for a bad one', async () => {
      const app = express();
      const api = express.Router();
      addMonitorRoutes(api, {
        store,
        monitor: monitorOf(),
        admin: (_q, _r, next) => next(),
        fail: (res, e) => res.status((e as { code?: string }).code === 'BAD_ARGUMENT' ? 400 : 500).json({ error: (e as Error).message }),
      });
      app.use('/api/v1', api);
      server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server!.once('listening', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/packages`;
      const encoded = await fetch(`${base}/${encodeURIComponent('pkg:npm/lodash@4.17.21')}/images`);
      expect(encoded.status).to.equal(200);
      expect(((await encoded.json()) as { images: Array<{ digest: string }> }).images.map((i) => i.digest)).to.deep.equal([digestOf(2)]);
      const raw = await fetch(`${base}/pkg:deb/debian/openssl/images`);
      expect(raw.status).to.equal(200);
      expect(((await raw.json()) as { images: unknown[] }).images).to.have.length(2);
      const first = (await (await fetch(`${base}/pkg:npm/lodash/images?limit=1`)).json()) as { images: Array<{ digest: string }>; more: boolean; next?: string };
      expect([first.images.map((i) => i.digest), first.more, first.next]).to.deep.equal([[digestOf(1)], true, digestOf(1)]);
      const second = (await (await fetch(`${base}/pkg:npm/lodash/images?limit=1&after=${first.next}`)).json()) as { images: Array<{ digest: string }>; more: boolean };
      expect([second.images.map((i) => i.digest), second.more]).to.deep.equal([[digestOf(2)], false]);
      expect((await fetch(`${base}/pkg:npm/lodash/images?limit=0`)).status).to.equal(400);
      expect((await fetch(`${base}/pkg:npm/lodash/images?after=sha256:1`)).status).to.equal(400);
      const badOne = await fetch(`${base}/${encodeURIComponent('pkg:hex/phoenix')}/images`);
      expect(badOne.status).to.equal(400);
      expect(((await badOne.json()) as { error: string }).error).to.contain('does not inventory purl type "hex"');
    });
  });

  for (const kind of ['sqlite', 'postgres'] as const) {
    it(`property (${kind}): walking the pages of any limit gives every image holding the package at that version once, in digest order`, async function () {
      this.timeout(120_000);
      const pg = kind === 'postgres' ? await freshDatabase('pushgate_purl_pages') : undefined;
      const store = await openStore(pg ? pg.url : 'sqlite::memory:');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-purl-pages-'));
      try {
        const db = await buildDb(path.join(dir, 'vulndb.sqlite'), [osvRecord('npm/NSWG-NPM-368.json')]);
        const policy = defaultPolicy();
        // 14 images: lodash at one of three versions, or none
        const versions = ['4.17.15', '4.17.21', '4.17.15', '', '4.17.4', '4.17.15', '4.17.15', '', '4.17.21', '4.17.15', '4.17.4', '4.17.15', '4.17.21', '4.17.15'];
        for (const [i, v] of versions.entries()) {
          await storeImage(store, { repository: `team/p${i}`, tag: 'v1', scan: scanOf(digestOf(500 + i), v ? [npmPackage('lodash', v)] : [npmPackage('left-pad', '1.3.0')]), db, policy });
        }
        db.close();
        const mon = new Monitor({ store, logger: quiet, vulndb: () => undefined, policy: () => defaultPolicy() });
        await mon.catchUp();
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.constantFrom('', '4.17.15', '4.17.21', '4.17.4', '1.0.0'), async (limit, version) => {
            const want = versions.flatMap((v, i) => (v && (!version || v === version) ? [digestOf(500 + i)] : []));
            const seen: string[] = [];
            let after: Digest | undefined;
            for (let calls = 0; ; calls++) {
              expect(calls, 'the walk ends').to.be.lessThan(40);
              const page = await mon.packageImages(`pkg:npm/lodash${version ? `@${version}` : ''}`, { limit, after });
              expect(page.images.length).to.be.at.most(limit);
              seen.push(...page.images.map((x) => x.digest));
              if (!page.more) break;
              expect(page.next, 'a page with more names where to go on').to.be.a('string');
              after = page.next;
            }
            expect(seen).to.deep.equal(want);
          }),
          { numRuns: 25 },
        );
        await mon.packageImages('pkg:npm/lodash', { limit: 0 }).then(() => expect.fail('limit 0 accepted'), (e: Error) => expect(e.message).to.match(/limit 0: use an integer from 1 to 1000/));
      } finally {
        await store.close();
        await pg?.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
