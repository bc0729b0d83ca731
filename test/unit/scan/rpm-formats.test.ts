/**
 * RPM databases in all three formats, read from real layers: Berkeley DB hash (CentOS 8 libuuid,
 * expected by rpm 4.18 bdb_ro), NDB (SLE 15 BCI, expected by go-rpmdb's recorded rpm -qa) and SQLite
 * (built here with rpmbuild + rpm --justdb; expected by rpm -qa). An RPM-owned Python dist-info gets
 * ownedBy, a pip-installed copy does not. Damaged databases are parse-error diagnostics.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanTarget } from '../../../src/scan/engine.js';
import { readBdbBlobs, readNdbBlobs } from '../../../src/scan/analyzers/rpm-bdb.js';
import { gzLayer, makeTar, writeLayout, type TarEntry } from './layout-helper.js';

const P = path.resolve('test/fixtures/scan/parsers/rpm');
const R = path.resolve('test/fixtures/scan/rpm');

interface Exp { name: string; epoch: number | null; version: string; release: string; arch: string; source_rpm: string }
const expected = (c: string) => (JSON.parse(fs.readFileSync(path.join(P, c, 'expected.json'), 'utf8')) as { packages: Exp[] }).packages;

describe('scan: RPM databases (BDB, NDB, SQLite)', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-rpm-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function scan(name: string, entries: TarEntry[]) {
    const dir = path.join(tmp, name);
    writeLayout(dir, [gzLayer(await makeTar(entries))]);
    return (await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') })).platforms[0].inventory;
  }
  const line = (p: { name: string; version: string; arch?: string; sourceName?: string }) => `${p.name} ${p.version} ${p.arch}`;
  const expLine = (e: Exp) => `${e.name} ${e.epoch ? `${e.epoch}:` : ''}${e.version}-${e.release} ${e.arch}`;

  it('Berkeley DB Packages (CentOS 8): the packages rpm -qa (bdb_ro) lists, source name and purl', async () => {
    const inv = await scan('bdb', [
      { name: 'etc/os-release', content: 'ID="centos"\nVERSION_ID="8"\n' },
      { name: 'var/lib/rpm/Packages', content: fs.readFileSync(path.join(P, 'libuuid/Packages')) },
    ]);
    const pk = inv.packages.filter((p) => p.analyzer === 'os/rpm');
    expect(pk.map(line)).to.deep.equal(expected('libuuid').map(expLine));
    expect(pk[0].sourceName).to.equal('util-linux');
    expect(pk[0].purl).to.match(/^pkg:rpm\/centos\/libuuid@2\.32\.1-42\.el8_8\?arch=x86_64&distro=centos-8$/);
  });

  it('NDB Packages.db (SLE 15): all 35 packages', async () => {
    const inv = await scan('ndb', [
      { name: 'etc/os-release', content: 'ID="sles"\nVERSION_ID="15.3"\n' },
      { name: 'usr/lib/sysimage/rpm/Packages.db', content: fs.readFileSync(path.join(P, 'sle15-bci/Packages.db')) },
    ]);
    const pk = inv.packages.filter((p) => p.analyzer === 'os/rpm');
    expect(pk.map(line).sort()).to.deep.equal(expected('sle15-bci').filter((e) => e.name !== 'gpg-pubkey').map(expLine).sort());
    expect(inv.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
  });

  it('SQLite rpmdb built with rpm: rpm -qa values; its Python dist-info is ownedBy, a pip copy is not', async () => {
    const meta = 'Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.5\n';
    const inv = await scan('sqlite', [
      { name: 'etc/os-release', content: 'ID="rocky"\nVERSION_ID="8.8"\n' },
      { name: 'var/lib/rpm/rpmdb.sqlite', content: fs.readFileSync(path.join(R, 'rpmdb.sqlite')) },
      { name: 'usr/lib/python3.9/site-packages/urllib3-1.26.5.dist-info/METADATA', content: meta },
      { name: 'usr/local/lib/python3.9/site-packages/urllib3-1.26.5.dist-info/METADATA', content: meta },
    ]);
    const [n, epoch, v, rel, arch, src] = fs.readFileSync(path.join(R, 'rpm-qa.txt'), 'utf8').trim().split(' ');
    const rp = inv.packages.find((p) => p.analyzer === 'os/rpm')!;
    expect(line(rp)).to.equal(`${n} ${epoch}:${v}-${rel} ${arch}`);
    expect(rp.sourceName).to.equal(src.replace(/-[^-]+-[^-]+\.src\.rpm$/, ''));
    const owned = fs.readFileSync(path.join(R, 'rpm-qal.txt'), 'utf8').trim();
    const py = inv.packages.filter((p) => p.ecosystem === 'PyPI');
    expect(py.find((p) => p.path === owned)!.ownedBy).to.equal(n);
    expect(py.find((p) => p.path.startsWith('/usr/local/'))!.ownedBy).to.equal(undefined);
  });

  it('damaged databases are parse-error diagnostics', async () => {
    const bdb = fs.readFileSync(path.join(P, 'libuuid/Packages'));
    const ndb = fs.readFileSync(path.join(P, 'sle15-bci/Packages.db'));
    const inv = await scan('bad', [
      { name: 'var/lib/rpm/Packages', content: bdb.subarray(0, 8192) },
      { name: 'usr/lib/sysimage/rpm/Packages.db', content: Buffer.concat([ndb.subarray(0, 4096), Buffer.alloc(4096)]) },
    ]);
    const codes = inv.diagnostics.filter((d) => d.code === 'parse-error').map((d) => d.path).sort();
    expect(codes).to.deep.equal(['/usr/lib/sysimage/rpm/Packages.db', '/var/lib/rpm/Packages']);
    const f = path.join(tmp, 'junk');
    fs.writeFileSync(f, Buffer.alloc(4096, 0x41));
    expect(() => readBdbBlobs(f)).to.throw(/bad magic/);
    expect(() => readNdbBlobs(f)).to.throw(/bad magic/);
  });
});
