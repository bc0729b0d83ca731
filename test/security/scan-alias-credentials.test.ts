/**
 * `pushgate scan` sends a credential from the files container tools write only to the host its key names.
 * A reference naming an alias of a configured registry (`registries[].aliases`: a mirror of Docker Hub named
 * `docker.io`, an old host name) is fetched from the registry's `url`; the credential stored for the alias
 * (the user's Docker Hub password) is for another server and was sent to the registry's url host. Now only a
 * key naming the url host applies, and one line says why the alias's credential was not used.
 *
 * Real components: Distribution 2.8 with htpasswd (the lab's start-registry.sh), skopeo for the push,
 * `pushgate scan` as a child process in a sandboxed home with real Docker and containers auth files.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import type { ScanReport } from '../../src/core/index.js';
import { makeSandbox, runInSandbox, type CliSandbox } from '../helpers/cli-sandbox.js';
import { ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { DEBIAN_12_OS_RELEASE, dpkgStatus, writeOciImage } from '../helpers/oci-image.js';
import { freePort } from '../helpers/ports.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function writeJson(file: string, j: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(j));
}

/**
 * Aliases and auth-file keys naming them (the spellings the host normalizer reads as the alias: letter
 * case, a trailing dot, a URL key). A key with another port (`:443`) names another host, for which no
 * credential is looked up and no note is printed.
 */
const ALIASES: Array<{ alias: string; keys: string[] }> = [
  { alias: 'docker.io', keys: ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io'] },
  { alias: 'old-registry.example.test', keys: ['old-registry.example.test', 'https://old-registry.example.test', 'OLD-REGISTRY.example.test.'] },
  { alias: 'mirror.example.test:5000', keys: ['mirror.example.test:5000', 'http://mirror.example.test:5000/v2/'] },
];

describe('security: pushgate scan sends a credential only to the host its key names (aliases)', function () {
  this.timeout(300_000);
  let sb: CliSandbox;
  let reg: LabRegistry;

  before(async () => {
    sb = makeSandbox();
    const u = await runInSandbox(sb, ['db', 'update', '--source', path.join(ROOT, 'test/fixtures/vulndb/osv/npm')]);
    expect(u.status, u.stderr).to.equal(0);
    const image = writeOciImage(sb.newDir('images'), 'small', [{ files: { 'etc/os-release': DEBIAN_12_OS_RELEASE, 'var/lib/dpkg/status': dpkgStatus(['zlib1g 1:1.2.13.dfsg-1']) }, gzip: true }]).ref;
    reg = startRegistry(await freePort(), { auth: 'htpasswd' });
    const push = await skopeoCopyAsync(image, `${reg.host}/lab/app:1`, { creds: 'lab:labpass' });
    expect(push.code, push.stderr).to.equal(0);
  });
  after(() => {
    reg?.stop();
    sb?.remove();
  });

  it('property: the alias\'s credential (Docker or containers file, any key spelling) never reaches the registry\'s url host', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: ALIASES.length - 1 }), fc.nat(), fc.constantFrom<'docker' | 'containers'>('docker', 'containers'), async (ai, ki, file) => {
        const { alias, keys } = ALIASES[ai]!;
        const key = keys[ki % keys.length]!;
        const dir = sb.newDir(`alias-${run++}`);
        const cfg = path.join(dir, 'pushgate.yaml');
        fs.writeFileSync(cfg, `registries:\n  - name: mirror\n    url: ${reg.url}\n    aliases: [${JSON.stringify(alias)}]\n`);
        const dockerFile = path.join(dir, 'docker', 'config.json');
        const authFile = path.join(dir, 'auth.json');
        // the registry's password, stored for the alias: if it is sent, the scan succeeds
        if (file === 'docker') writeJson(dockerFile, { auths: { [key]: { auth: b64('lab:labpass') } } });
        else writeJson(authFile, { auths: { [key.replace(/^https?:\/\//, '').replace(/\/.*$/, '')]: { auth: b64('lab:labpass') } } });
        const env = file === 'docker' ? { DOCKER_CONFIG: path.dirname(dockerFile) } : { REGISTRY_AUTH_FILE: authFile };
        const r = await runInSandbox(sb, ['scan', `${alias}/lab/app:1`, '--config', cfg, '--format', 'json'], { env });
        expect(r.status, `${alias} ${key} ${file}: ${r.stderr}`).to.equal(2);
        expect(r.stderr).to.match(/401/);
        expect(r.stderr).to.include(`is not sent to registry mirror (${reg.host})`);

        // the same credential under the url host's own key is used for the alias reference
        if (file === 'docker') writeJson(dockerFile, { auths: { [reg.host]: { auth: b64('lab:labpass') } } });
        else writeJson(authFile, { auths: { [reg.host]: { auth: b64('lab:labpass') } } });
        const ok = await runInSandbox(sb, ['scan', `${alias}/lab/app:1`, '--config', cfg, '--format', 'json'], { env });
        expect(ok.status, `${alias} via ${reg.host}: ${ok.stderr}`).to.equal(0);
        expect((JSON.parse(ok.stdout) as ScanReport).packages.map((p) => p.name)).to.deep.equal(['zlib1g']);
      }),
      { numRuns: 8 },
    );
  });
});
