import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { buildDb, osvRecord } from '../../helpers/monitor.js';

const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json');
const LODASH = osvRecord('npm/NSWG-NPM-368.json');
const OPENSSL = osvRecord('debian-bookworm/DEBIAN-CL-CVE-2016-9840.json');

describe('vulndb: content digest and changed (ecosystem, package) pairs', () => {
  let dir: string;
  let dbPath: string;
  const open: VulnDb[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-digest-'));
    dbPath = path.join(dir, 'vulndb.sqlite');
  });
  afterEach(() => {
    for (const d of open.splice(0)) d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const build = async (records: Array<Record<string, unknown>>) => {
    const d = await buildDb(dbPath, records);
    open.push(d);
    return d;
  };
  const pkgOf = (r: Record<string, unknown>) => {
    const a = (r.affected as Array<{ package: { ecosystem: string; name: string } }>)[0].package;
    return `${a.ecosystem.split(':')[0].toLowerCase()}:${a.name}`;
  };

  it('the same records in any order give the same digest; the first build has no previous', async () => {
    const a = await build([LODASH, ADM_ZIP, OPENSSL]);
    expect(a.contentDigest).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(a.digestRecord().previous).to.equal(null);
    const b = await build([OPENSSL, ADM_ZIP, LODASH]);
    expect(b.contentDigest).to.equal(a.contentDigest);
    expect(b.digestRecord()).to.deep.include({ previous: a.contentDigest });
    expect(b.digestRecord().changed.size).to.equal(0);
  });

  it('names the pairs of an added, a withdrawn, a re-ranged and a re-rated advisory, and nothing else', async () => {
    const a = await build([LODASH, OPENSSL]);
    const added = await build([LODASH, OPENSSL, ADM_ZIP]);
    expect(added.contentDigest).to.not.equal(a.contentDigest);
    expect([...added.digestRecord().changed]).to.deep.equal([[pkgOf(ADM_ZIP), 'added']]);
    const withdrawn = await build([LODASH, OPENSSL, { ...ADM_ZIP, withdrawn: '2026-12-01T00:00:00Z' }]);
    expect([...withdrawn.digestRecord().changed]).to.deep.equal([[pkgOf(ADM_ZIP), 'removed']]);
    expect(withdrawn.contentDigest).to.equal(a.contentDigest);
    const reranged = structuredClone(LODASH) as { affected: Array<{ ranges: Array<{ events: Array<Record<string, string>> }> }> };
    reranged.affected[0].ranges[0].events = [{ introduced: '0' }, { fixed: '4.17.6' }];
    const r = await build([reranged as never, OPENSSL]);
    expect([...r.digestRecord().changed]).to.deep.equal([[pkgOf(LODASH), 'changed']]);
    const rerated = await build([{ ...LODASH, severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] }, OPENSSL]);
    expect([...rerated.digestRecord().changed]).to.deep.equal([[pkgOf(LODASH), 'changed']]);
    // rewording changes no finding: not a change
    const reworded = await build([{ ...LODASH, severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }], summary: 'other words', modified: '2027-01-01T00:00:00Z' }, OPENSSL]);
    expect(reworded.digestRecord().changed.size).to.equal(0);
  });
});
