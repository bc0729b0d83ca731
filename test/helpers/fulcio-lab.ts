/**
 * A private Sigstore instance for tests, in the published formats: a Fulcio-style CA (P-256, made with
 * openssl) issuing short-lived code-signing certificates with an email SAN and the OIDC issuer
 * extension 1.3.6.1.4.1.57264.1.8, a Rekor-style log key signing SignedEntryTimestamps over
 * hashedrekord 0.0.1 entries, and the trusted_root.json naming both (no CT log: a private Fulcio).
 * With them, cosign legacy keyless signatures (certificate, chain and Rekor bundle annotations) are
 * made exactly as cosign attaches them, including one whose certificate had expired when it was logged.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleSigningPayload } from '../../src/trust/simple-signing.js';
import type { FoundSignature } from '../../src/trust/types.js';

export const LAB_ISSUER = 'https://oidc.lab.example';

export interface FulcioLab {
  dir: string;
  /** Path of the trusted_root.json. */
  trustedRoot: string;
  caPem: string;
  /**
   * A keyless legacy signature of `digest` as `reference` by `email`. `expired`: the certificate's
   * validity ended in 2020 and the log entry is from now (cosign would refuse it too).
   */
  sign(email: string, reference: string, digest: string, opts?: { expired?: boolean }): FoundSignature;
  cleanup(): void;
}

function canonical(o: Record<string, unknown>): string {
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(o[k])}`).join(',')}}`;
}

/** Creates the CA, the log key and the trusted root in a temporary directory. */
export function startFulcioLab(): FulcioLab {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-fulcio-'));
  const f = (n: string) => path.join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650', '-subj', '/O=lab/CN=lab-fulcio', '-set_serial', '1',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  fs.mkdirSync(f('db'));
  fs.writeFileSync(f('db/index.txt'), '');
  fs.writeFileSync(f('db/serial'), '1000\n');
  const log = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logDer = log.publicKey.export({ type: 'spki', format: 'der' });
  const logId = crypto.createHash('sha256').update(logDer).digest();
  const caPem = fs.readFileSync(f('ca.crt'), 'utf8');
  const caDer = new crypto.X509Certificate(caPem).raw;
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: 'https://rekor.lab.example', hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: logDer.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2019-01-01T00:00:00Z' } }, logId: { keyId: logId.toString('base64') } }],
    certificateAuthorities: [{ subject: { organization: 'lab', commonName: 'lab-fulcio' }, uri: 'https://fulcio.lab.example', certChain: { certificates: [{ rawBytes: caDer.toString('base64') }] }, validFor: { start: '2019-01-01T00:00:00Z' } }],
    ctlogs: [],
    timestampAuthorities: [],
  };
  fs.writeFileSync(f('trusted_root.json'), JSON.stringify(root, null, 2));
  let n = 0;
  return {
    dir,
    trustedRoot: f('trusted_root.json'),
    caPem,
    sign(email, reference, digest, opts = {}) {
      n += 1;
      const leafKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      fs.writeFileSync(f(`leaf${n}.key`), leafKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      ossl('req', '-new', '-key', f(`leaf${n}.key`), '-subj', '/', '-out', f(`leaf${n}.csr`));
      fs.writeFileSync(
        f('ca.cnf'),
        [
          '[ca]', 'default_ca = lab', '[lab]', `dir = ${dir}`, 'database = $dir/db/index.txt', 'serial = $dir/db/serial', 'new_certs_dir = $dir/db',
          'certificate = $dir/ca.crt', 'private_key = $dir/ca.key', 'default_md = sha256', 'policy = any', 'unique_subject = no', 'copy_extensions = none',
          '[any]', '[leaf]', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = codeSigning', `subjectAltName = critical,email:${email}`,
          `1.3.6.1.4.1.57264.1.8 = ASN1:UTF8String:${LAB_ISSUER}`, 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid',
        ].join('\n'),
      );
      const now = Date.now();
      const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
      const [start, end] = opts.expired ? ['20200101000000Z', '20200101001000Z'] : [stamp(now - 60_000), stamp(now + 10 * 60_000)];
      ossl('ca', '-batch', '-config', f('ca.cnf'), '-extensions', 'leaf', '-notext', '-startdate', start, '-enddate', end, '-in', f(`leaf${n}.csr`), '-out', f(`leaf${n}.crt`));
      const certPem = fs.readFileSync(f(`leaf${n}.crt`), 'utf8');
      const payload = simpleSigningPayload(reference, digest as `sha256:${string}`);
      const signature = crypto.sign('sha256', payload, leafKey.privateKey).toString('base64');
      const body = Buffer.from(
        JSON.stringify({
          apiVersion: '0.0.1',
          kind: 'hashedrekord',
          spec: { data: { hash: { algorithm: 'sha256', value: crypto.createHash('sha256').update(payload).digest('hex') } }, signature: { content: signature, publicKey: { content: Buffer.from(certPem).toString('base64') } } },
        }),
      ).toString('base64');
      const entry = { body, integratedTime: Math.floor(now / 1000), logIndex: n, logID: logId.toString('hex') };
      const set = crypto.sign('sha256', Buffer.from(canonical(entry)), log.privateKey).toString('base64');
      return {
        layout: 'cosign-sig-tag',
        source: `lab signature ${n}`,
        payload,
        signature,
        certificate: certPem,
        chain: caPem,
        rekorBundle: JSON.stringify({ SignedEntryTimestamp: set, Payload: entry }),
      };
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
