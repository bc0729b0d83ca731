/**
 * Image configuration: base layers from history (the real node-app lab image, built FROM
 * debian-minbase), base image from OCI annotations, image size and layer count, and passwords in
 * `.env`-style files and the config Env (rule env-password), never with their values.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labImages, labOci } from '../../helpers/lab.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { findEnvPasswords, isEnvFile } from '../../../src/scan/analyzers/secrets.js';
import { checkConfig, guessBaseLayerCount } from '../../../src/scan/config-checks.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

describe('scan: base image, size, layer count, env passwords', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => { labImages(); tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-cfg-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('node-app (FROM debian-minbase): its first layer is the base layer, by history; debian-minbase has none', async () => {
    const node = (await scanTarget(labOci('node-app', 'vuln'))).platforms[0];
    const base = (await scanTarget(labOci('debian-minbase', 'bookworm'))).platforms[0];
    expect(node.baseLayers).to.deep.equal([base.layers[0].diffID]);
    expect(node.layers[0].diffID).to.equal(base.layers[0].diffID);
    expect(base.baseLayers).to.equal(undefined);
    const checks = node.inventory.config.map((c) => c.check);
    expect(checks).to.include.members(['base-image', 'image-size', 'layer-count']);
    expect(node.inventory.config.find((c) => c.check === 'layer-count')!.message).to.include('2 layers');
    // node-app's .env holds AWS keys, no password: no env-password finding there.
    expect(node.inventory.secrets.filter((s) => s.rule === 'env-password')).to.deep.equal([]);
  });

  it('layer-count names the count in the right number: 1 layer, 0 and 2 and 51 layers (with the squash hint over the limit)', () => {
    const message = (n: number) =>
      checkConfig({}, { layers: Array.from({ length: n }, () => ({ size: 1 })) }).config.find((c) => c.check === 'layer-count')!.message;
    expect(message(1)).to.equal('the image has 1 layer');
    expect(message(0)).to.equal('the image has 0 layers');
    expect(message(2)).to.equal('the image has 2 layers');
    expect(message(51)).to.equal('the image has 51 layers; squash or combine RUN steps');
  });

  it('annotations name the base; .env passwords and Env passwords are found, placeholders and templates are not', async () => {
    const pw = 'S3cr' + 'etPw!2024';
    const t = await makeTar([
      { name: 'app/.env', content: `DB_HOST=db\nDB_PASS=${pw}\nREDIS_PASSWORD="\${REDIS_PW}"\nexport ADMIN_PASSWORD='${pw}x' # prod\nSMTP_PASSWORD=changeme\nPASSWORD_FILE=/run/secrets/pw\n` },
      { name: 'app/.env.example', content: `DB_PASS=${pw}\n` },
      { name: 'app/config.ini', content: `password=${pw}\n` },
    ]);
    const dir = path.join(tmp, 'ann');
    const lay = gzLayer(t);
    writeLayout(dir, [lay], {
      config: {
        config: { User: '1000', Env: ['PATH=/usr/bin', `MYSQL_ROOT_PASSWORD=${pw}`, 'POSTGRES_PASSWORD=<set-me>'] },
        history: [{ created_by: 'ADD rootfs.tar /' }, { created_by: 'CMD ["sh"]', empty_layer: true }],
      },
    });
    // Add the base annotations to the manifest by rewriting the layout's index-referenced manifest.
    const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number }> };
    const mp = path.join(dir, 'blobs/sha256', idx.manifests[0].digest.slice(7));
    const m = JSON.parse(fs.readFileSync(mp, 'utf8')) as Record<string, unknown>;
    m.annotations = { 'org.opencontainers.image.base.name': 'docker.io/library/alpine:3.19', 'org.opencontainers.image.base.digest': 'sha256:' + 'a'.repeat(64) };
    const mb = Buffer.from(JSON.stringify(m));
    const { sha256 } = await import('./layout-helper.js');
    const d = sha256(mb);
    fs.writeFileSync(path.join(dir, 'blobs/sha256', d.slice(7)), mb);
    idx.manifests[0] = { ...idx.manifests[0], digest: d, size: mb.length };
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(idx));

    const p = (await scanTarget(`oci:${dir}:test`)).platforms[0];
    const base = p.inventory.config.find((c) => c.check === 'base-image')!;
    expect(base.message).to.include('docker.io/library/alpine:3.19@sha256:aaaa');
    const env = p.inventory.secrets.filter((s) => s.rule === 'env-password').map((s) => `${s.path}:${s.line} ${s.redacted} ${s.severity}`);
    expect(env).to.deep.equal(['/app/.env:2 DB_PASS=**** medium', '/app/.env:4 ADMIN_PASSWORD=**** medium', 'config:Env[1]:undefined MYSQL_ROOT_PASSWORD=…[REDACTED] medium']);
    // Neither the inventory (what reports carry) nor PlatformScan.config (what is stored) holds the value.
    expect(JSON.stringify(p)).to.not.include(pw);
    expect(p.config.config?.Env).to.deep.equal(['PATH=/usr/bin', 'MYSQL_ROOT_PASSWORD=…[REDACTED]', 'POSTGRES_PASSWORD=<set-me>']);
    expect(p.baseLayers).to.deep.equal(undefined);
  });

  it('helpers: env file names, base-layer guesses', () => {
    for (const f of ['/a/.env', '/a/.env.production', '/a/db.env']) expect(isEnvFile(f), f).to.equal(true);
    for (const f of ['/a/.env.example', '/a/.env.sample', '/a/env', '/a/.envrc', '/a/app.env.template']) expect(isEnvFile(f), f).to.equal(false);
    expect(findEnvPasswords('PASS=\nDB_PASSWORD=xxxx\nAPI_PASS=$API\n', '/x/.env')).to.deep.equal([]);
    expect(guessBaseLayerCount([
      { created_by: '/bin/sh -c #(nop) ADD file:abc in /' }, { created_by: '/bin/sh -c #(nop)  CMD ["bash"]', empty_layer: true },
      { created_by: 'RUN apt-get update' }, { created_by: 'COPY . /app' }, { created_by: 'ENTRYPOINT ["x"]', empty_layer: true }, { created_by: 'CMD ["y"]', empty_layer: true },
    ])).to.equal(1);
    expect(guessBaseLayerCount([{ created_by: 'ADD x /' }, { created_by: 'CMD ["sh"]', empty_layer: true }])).to.equal(undefined);
    expect(guessBaseLayerCount(undefined)).to.equal(undefined);
    // Checked against the manifest's layer count (what the gate's policy excludeBase gets): a history
    // whose non-empty entries are not one per layer names no base.
    const forged = [{ created_by: 'debootstrap' }, { created_by: 'COPY app /app' }, { created_by: 'CMD ["node"]', empty_layer: true }, { created_by: 'RUN true' }];
    expect(guessBaseLayerCount(forged)).to.equal(2);
    expect(guessBaseLayerCount(forged, 2)).to.equal(undefined);
    expect(guessBaseLayerCount(forged, 3)).to.equal(2);
    expect(guessBaseLayerCount(forged, 1)).to.equal(undefined);
  });
});
