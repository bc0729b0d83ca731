/**
 * The release check (src/scan/os-evidence.ts) held when any record of the release package agreed with
 * os-release: a Debian 11 image whose os-release says 12 and that carries a second `base-files 12.4`
 * record (a distroless `status.d` file beside the status file, or a second stanza of the status file)
 * was matched against bookworm's advisories, complete. Records that disagree are no evidence: the scan
 * is incomplete. A second stanza in the status file itself dpkg refuses to read at all (the real
 * dpkg-query, below), and pushgate refuses it too (`dpkg-ambiguous`).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Diagnostic } from '../../../src/core/index.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { DEBIAN_12_OS_RELEASE, writeOciImage } from '../../helpers/oci-image.js';

const stanza = (name: string, version: string) => `Package: ${name}\nStatus: install ok installed\nPriority: required\nMaintainer: m <m@example.org>\nArchitecture: amd64\nVersion: ${version}\nDescription: ${name}\n`;
const BULLSEYE = `${stanza('base-files', '11.1+deb11u9')}\n${stanza('libssl1.1', '1.1.1n-0+deb11u5')}`;

describe('os-release against release packages that disagree among themselves', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-os-dup-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  async function incomplete(files: Record<string, string>): Promise<Diagnostic[]> {
    const bufs = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)]));
    const { ref } = writeOciImage(dir, `img${n++}`, [{ files: { 'etc/os-release': Buffer.from(DEBIAN_12_OS_RELEASE), ...bufs }, gzip: true }]);
    const s = await scanTarget(ref, { tmpDir: dir });
    return s.platforms[0]!.inventory.diagnostics.filter((d) => d.incomplete);
  }

  it('a bullseye status under a bookworm os-release is incomplete, with or without a second base-files claiming bookworm', async () => {
    expect((await incomplete({ 'var/lib/dpkg/status': BULLSEYE })).map((d) => d.code)).to.deep.equal(['os-release-mismatch']);
    const viaStatusD = await incomplete({ 'var/lib/dpkg/status': BULLSEYE, 'var/lib/dpkg/status.d/base-files': stanza('base-files', '12.4+deb12u5') });
    expect(viaStatusD.map((d) => d.code)).to.deep.equal(['os-release-mismatch']);
    expect(viaStatusD[0]!.message).to.contain('disagree');
    const inStatus = await incomplete({ 'var/lib/dpkg/status': `${BULLSEYE}\n${stanza('base-files', '12.4+deb12u5')}` });
    expect(inStatus.map((d) => d.code)).to.include('dpkg-ambiguous');
  });

  it('dpkg itself refuses a status file with two base-files records (real dpkg-query)', () => {
    const admin = path.join(dir, 'admin');
    fs.mkdirSync(path.join(admin, 'updates'), { recursive: true });
    fs.mkdirSync(path.join(admin, 'info'), { recursive: true });
    fs.writeFileSync(path.join(admin, 'status'), `${BULLSEYE}\n${stanza('base-files', '12.4+deb12u5')}`);
    const r = spawnSync('dpkg-query', [`--admindir=${admin}`, '-W'], { encoding: 'utf8' });
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.contain('multiple non-coinstallable package instances');
  });

  it('one base-files agreeing with os-release is judged as before', async () => {
    expect(await incomplete({ 'var/lib/dpkg/status': `${stanza('base-files', '12.4+deb12u5')}\n${stanza('libssl3', '3.0.11-1~deb12u2')}` })).to.deep.equal([]);
  });
});
