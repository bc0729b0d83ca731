/**
 * Reproduction (script): a re-evaluation restores a tag to a digest that the same re-evaluation judges blocking.
 *
 * Ports 22364-22365. Run: PUSHGATE_LAB_IMAGES=/work/lab-images npx tsx test/security/attack/restore-resurrects.ts
 *
 * 1. Policy P0 = the default policy with fixable-high-vulns as `warn` (adm-zip 0.4.7 passes).
 * 2. Push B (debian-minbase) as app:t, A (adm-zip 0.4.7) as app:t, C (the same adm-zip image, other layer
 *    bytes, so another digest) as app:t: every one allowed (warn) and recorded as allowed for tag t.
 * 3. Re-push A by digest (no tag): its stored verdict becomes the most recently updated one.
 * 4. The policy becomes the default one (adm-zip → quarantine). Re-evaluation walks verdicts newest first:
 *    A (no tag points at it: skipped, no "not allowed" row for (t, A)), then C (t → C): C is quarantined and
 *    t is restored to lastAllowed(t) = A, by pushgate's own write, which is never judged.
 * End state checked: app:t serves A (adm-zip 0.4.7, verdict quarantine) outside quarantine.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_POLICY_YAML } from '../../../src/policy/index.js';
import { startServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry } from '../../helpers/lab.js';

const REG = 22364, API = 22365, TOKEN = 'resurrect';
const host = `127.0.0.1:${REG}`;
const HERE = path.join(ROOT, 'test/security/attack');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const images = labImages();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-resurrect-'));
const lenient = DEFAULT_POLICY_YAML.replace('        - name: fixable-high-vulns\n          action: quarantine', '        - name: fixable-high-vulns\n          action: warn');
if (lenient === DEFAULT_POLICY_YAML) throw new Error('could not derive P0');
fs.writeFileSync(path.join(dir, 'policy.yaml'), lenient);
await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
const config = labGateConfig(dir, [labRegistryConfig('lab', REG, TOKEN)]);
config.server.listen = `127.0.0.1:${API}`;
config.policy = path.join(dir, 'policy.yaml');
const srv = await startServer(config, silentLogger, { policyWatchMs: 200 });
const reg = startRegistry(REG, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';
const digestOf = async (ref: string) => (await fetch(`http://${host}/v2/app/manifests/${ref}`, { method: 'HEAD', headers: { Accept: ACCEPT } })).headers.get('docker-content-digest');
async function settled(digest: string, want: string) {
  for (let i = 0; i < 300; i++) {
    const v = await srv.store.getVerdict('lab', 'app', digest);
    if (v && v.decision === want) return v;
    await sleep(100);
  }
  throw new Error(`no ${want} verdict for ${digest}`);
}
try {
  // C: adm-zip 0.4.7 with its second layer re-gzipped (same files, other digest).
  const w = fs.mkdtempSync(path.join(os.tmpdir(), 'resurrect-c-'));
  const admHex = (JSON.parse(fs.readFileSync(path.join(images, 'adm-zip/index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests[0]!.digest.slice(7);
  const l2 = (JSON.parse(fs.readFileSync(path.join(images, 'adm-zip/blobs/sha256', admHex), 'utf8')) as { layers: Array<{ digest: string }> }).layers[1]!.digest.slice(7);
  execFileSync('sh', ['-c', `zcat ${path.join(images, 'adm-zip/blobs/sha256', l2)} > ${w}/l2.tar`]);
  execFileSync('bash', [path.join(HERE, 'build-admzip-variant.sh'), `${w}/l2.tar`, `${w}/c`, 'v1'], { stdio: 'ignore', env: { ...process.env, GZLEVEL: '-1' } });

  for (const [src, what] of [[`oci:${images}/debian-minbase:bookworm`, 'B'], [`oci:${images}/adm-zip:0.4.7`, 'A'], [`oci:${w}/c:v1`, 'C']] as const) {
    const r = await skopeoCopyAsync(src, `${host}/app:t`);
    if (r.code) throw new Error(r.stderr);
    const d = (await digestOf('t'))!;
    await settled(d, 'warn');
    console.log(`${what} = ${d}: warn, app:t → ${what}`);
    if (what === 'A') (globalThis as Record<string, unknown>).A = d;
  }
  const A = (globalThis as Record<string, unknown>).A as string;
  // Re-push A by digest only: its verdict is now the most recently updated.
  const bytes = Buffer.from(await (await fetch(`http://${host}/v2/app/manifests/${A}`, { headers: { Accept: ACCEPT } })).arrayBuffer());
  const put = await fetch(`http://${host}/v2/app/manifests/${A}`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: bytes });
  console.log(`re-push A by digest: ${put.status}`);
  await sleep(3000);
  fs.writeFileSync(path.join(dir, 'policy.yaml'), DEFAULT_POLICY_YAML);
  console.log('policy → default (adm-zip 0.4.7 quarantined)');
  await settled(A, 'quarantine');
  await sleep(8000);
  const now = await digestOf('t');
  const va = await srv.store.getVerdict('lab', 'app', A);
  const served = await (await fetch(`http://${host}/v2/app/manifests/t`, { headers: { Accept: ACCEPT } })).text();
  console.log(`served manifest at app:t: ${served.slice(0, 400)}`);
  console.log(`END STATE: app:t → ${now} (${now === A ? 'A' : 'not A'}); verdict of A: ${va?.decision}`);
  console.log((await srv.store.listAudit(30, { repository: 'app' })).map((a) => `${a.action} ${a.digest?.slice(7, 19)} ${a.tag ?? ''}`).join('\n'));
  console.log(now === A && va?.decision === 'quarantine' ? 'VULNERABLE: a digest judged quarantine is served at app:t outside quarantine' : 'HELD');
} finally {
  reg.stop();
  await srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
