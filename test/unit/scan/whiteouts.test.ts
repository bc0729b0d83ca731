/**
 * Layer stacking (image-spec layer.md "Whiteouts"), long names, links and hostile names, on layers
 * written in the test with tar-stream.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

const STATUS = (pkgs: Array<[string, string]>) =>
  pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${v}\n`).join('\n');
const PJ = (n: string, v: string) => JSON.stringify({ name: n, version: v });
// A syntactically valid but fake key id (never a real credential).
const FAKE_AKID = 'AKIA' + 'QWERTYUIOPASDFGH'.replace(/[IO]/g, 'Z');

// Every case runs twice: gzip inflated on the calling thread, and in an inflate worker thread (inflate-pool.ts).
for (const inflateWorker of ['never', 'always'] as const) describe(`scan engine: whiteouts and tar edge cases (gzip ${inflateWorker === 'always' ? 'inflated in a worker thread' : 'on the calling thread'})`, function () {
  this.timeout(30_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-wh-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('applies whiteouts and opaque directories across layers: the inventory is the final filesystem', async () => {
    const l1 = await makeTar([
      { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
      { name: 'var/lib/dpkg/status', content: STATUS([['a', '1.0'], ['b', '2.0']]) },
      { name: 'app/node_modules/left/package.json', content: PJ('left', '1.0.0') },
      { name: 'app/node_modules/gone/package.json', content: PJ('gone', '1.0.0') },
      { name: 'opt/x/.env', content: `AWS_ACCESS_KEY_ID=${FAKE_AKID}\n` },
      { name: 'opt/x/sub/keep-not/package.json', content: '{}' },
      { name: 'srv/replaced.env', content: `KEY=${FAKE_AKID}\n` },
    ]);
    const l2 = await makeTar([
      { name: 'app/node_modules/.wh.gone', content: '' },
      { name: 'opt/x/.wh..wh..opq', content: '' },
      { name: 'opt/x/new.txt', content: 'hello' },
      { name: 'srv/replaced.env', content: 'KEY=nothing\n' },
      { name: 'var/lib/dpkg/status', content: STATUS([['a', '1.1']]) },
    ]);
    const lower = path.join(tmp, 'wh-lower');
    writeLayout(lower, [gzLayer(l1)]);
    const alone = (await scanTarget(`oci:${lower}`, { inflateWorker })).platforms[0].inventory;
    expect(alone.secrets.map((x) => x.path).sort()).to.deep.equal(['/opt/x/.env', '/srv/replaced.env']);
    expect(alone.packages.map((x) => x.name).sort()).to.deep.equal(['a', 'b', 'gone', 'left']);
    const dir = path.join(tmp, 'wh');
    writeLayout(dir, [gzLayer(l1), gzLayer(l2)]);
    const s = await scanTarget(`oci:${dir}`, { inflateWorker });
    const p = s.platforms[0];
    const inv = p.inventory;
    const names = inv.packages.map((x) => `${x.name}@${x.version}`).sort();
    expect(names).to.deep.equal(['a@1.1', 'left@1.0.0']);
    expect(inv.packages.find((x) => x.name === 'a')!.layer).to.equal(p.layers[1].diffID);
    expect(inv.packages.find((x) => x.name === 'left')!.layer).to.equal(p.layers[0].diffID);
    expect(inv.secrets).to.deep.equal([]);
    expect(inv.diagnostics).to.deep.equal([]);
  });

  it('a whiteout of a directory removes everything under it; the same layer may re-create it', async () => {
    const l1 = await makeTar([{ name: 'srv/app/node_modules/q/package.json', content: PJ('q', '1.0.0') }]);
    const l2 = await makeTar([
      { name: 'srv/.wh.app', content: '' },
      { name: 'srv/app/node_modules/r/package.json', content: PJ('r', '2.0.0') },
    ]);
    const dir = path.join(tmp, 'whdir');
    writeLayout(dir, [gzLayer(l1), gzLayer(l2)]);
    const inv = (await scanTarget(`oci:${dir}`, { inflateWorker })).platforms[0].inventory;
    expect(inv.packages.map((x) => x.name)).to.deep.equal(['r']);
  });

  it('reads PAX/GNU long names, plain (uncompressed) layers; `..` stops at the root; links are never followed', async () => {
    const deep = `app/${'d'.repeat(90)}/${'e'.repeat(90)}/node_modules/long/package.json`;
    const t = await makeTar([
      { name: deep, content: PJ('long', '3.0.0') },
      { name: '../../escape/node_modules/evil/package.json', content: PJ('evil', '6.6.6') },
      { name: 'app/link', type: 'symlink', linkname: '../../../../etc/shadow' },
      { name: 'app/hard', type: 'link', linkname: '../../../etc/passwd' },
      { name: './app/./x/../node_modules/dot/package.json', content: PJ('dot', '1.0.0') },
    ]);
    const dir = path.join(tmp, 'long');
    writeLayout(dir, [{ blob: t, tar: t, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }]);
    const inv = (await scanTarget(`oci:${dir}`, { inflateWorker })).platforms[0].inventory;
    expect(inv.packages.map((x) => `${x.name} ${x.path}`).sort()).to.deep.equal([
      'dot /app/node_modules/dot/package.json',
      'evil /escape/node_modules/evil/package.json',
      `long /${deep}`,
    ]);
    const trav = inv.diagnostics.filter((d) => d.code === 'path-traversal');
    expect(trav).to.have.length(2);
    expect(trav.every((d) => d.incomplete)).to.equal(true);
  });

  it('dir: scans a root filesystem without following symlinks', async () => {
    const root = path.join(tmp, 'rootfs');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(root, 'app/node_modules/m'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/alpine-release'), '3.19.1\n');
    fs.writeFileSync(path.join(root, 'app/node_modules/m/package.json'), PJ('m', '0.1.0'));
    fs.symlinkSync('/etc', path.join(root, 'app/outside'));
    const s = await scanTarget(`dir:${root}`);
    const inv = s.platforms[0].inventory;
    expect(inv.os?.ecosystem).to.equal('Alpine:v3.19');
    expect(inv.packages.map((p) => p.name)).to.deep.equal(['m']);
    expect(s.target).to.equal(`dir:${root}`);
  });

  it('language packages listed by dpkg get ownedBy; a pip-installed copy does not', async () => {
    const meta = 'Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.12\n\nbody';
    const deb = '/usr/lib/python3/dist-packages/urllib3-1.26.12.dist-info/METADATA';
    const t = await makeTar([
      { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
      { name: 'var/lib/dpkg/status', content: STATUS([['python3-urllib3', '1.26.12-1']]) },
      { name: 'var/lib/dpkg/info/python3-urllib3.list', content: `/.\n/usr\n${deb}\n` },
      { name: deb.slice(1), content: meta },
      { name: 'usr/local/lib/python3.11/site-packages/urllib3-1.26.12.dist-info/METADATA', content: meta },
    ]);
    const dir = path.join(tmp, 'owned');
    writeLayout(dir, [gzLayer(t)]);
    const inv = (await scanTarget(`oci:${dir}`, { inflateWorker })).platforms[0].inventory;
    const py = inv.packages.filter((p) => p.ecosystem === 'PyPI').map((p) => `${p.path} ${p.ownedBy ?? '-'} ${p.purl}`).sort();
    expect(py).to.deep.equal([
      `${deb} python3-urllib3 pkg:pypi/urllib3@1.26.12`,
      `/usr/local/lib/python3.11/site-packages/urllib3-1.26.12.dist-info/METADATA - pkg:pypi/urllib3@1.26.12`,
    ]);
  });

  it('limits: a layer expanding past maxTarBytes ends in an incomplete diagnostic', async () => {
    const t = await makeTar([{ name: 'big', content: Buffer.alloc(3 << 20) }]);
    const dir = path.join(tmp, 'limit');
    writeLayout(dir, [gzLayer(t)]);
    const inv = (await scanTarget(`oci:${dir}`, { limits: { maxTarBytes: 1 << 20 }, inflateWorker })).platforms[0].inventory;
    const d = inv.diagnostics.find((x) => x.code === 'layer-limit');
    expect(d?.incomplete).to.equal(true);
    expect(d?.message).to.match(/limit/);
  });
});
