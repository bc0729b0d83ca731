/**
 * Sigstore trusted roots (`trusted_root.json`, protobuf-specs `dev.sigstore.trustroot.v1.TrustedRoot`,
 * media type `application/vnd.dev.sigstore.trustedroot+json;version=0.1`): the Fulcio certificate
 * authorities and transparency log keys keyless signatures are checked against, offline.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { PushgateError } from '../core/index.js';
import type { TrustRoot } from './types.js';

interface Validity { start?: string; end?: string }

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ms(v: Validity | undefined, k: 'start' | 'end'): number | undefined {
  const s = v?.[k];
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`validFor.${k} ${JSON.stringify(s)} is not a time`);
  return t;
}

/**
 * Parses a trusted root document.
 * @param source where it came from, for messages.
 * @throws PushgateError BAD_CONFIG naming what is wrong (not JSON, a certificate or key that does not parse).
 */
export function parseTrustedRoot(text: string, source: string): TrustRoot {
  try {
    const json: unknown = JSON.parse(text);
    if (!isRecord(json)) throw new Error('not a JSON object');
    const cas = Array.isArray(json.certificateAuthorities) ? json.certificateAuthorities : [];
    const tlogs = Array.isArray(json.tlogs) ? json.tlogs : [];
    const certificateAuthorities = cas.map((ca: Record<string, unknown>, i: number) => {
      const chain = (isRecord(ca.certChain) && Array.isArray(ca.certChain.certificates) ? ca.certChain.certificates : []) as Array<{ rawBytes?: string }>;
      if (chain.length === 0) throw new Error(`certificateAuthorities[${i}] has no certificates`);
      const validFor = ca.validFor as Validity | undefined;
      return { certificates: chain.map((c) => new crypto.X509Certificate(Buffer.from(c.rawBytes ?? '', 'base64'))), start: ms(validFor, 'start'), end: ms(validFor, 'end') };
    });
    const tlogKeys: TrustRoot['tlogKeys'] = new Map();
    tlogs.forEach((t: Record<string, unknown>, i: number) => {
      const pk = t.publicKey as { rawBytes?: string; validFor?: Validity } | undefined;
      if (!pk?.rawBytes) throw new Error(`tlogs[${i}] has no publicKey.rawBytes`);
      const der = Buffer.from(pk.rawBytes, 'base64');
      const key = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
      tlogKeys.set(crypto.createHash('sha256').update(der).digest('hex'), { key, start: ms(pk.validFor, 'start'), end: ms(pk.validFor, 'end') });
    });
    return { json, certificateAuthorities, tlogKeys };
  } catch (e) {
    throw new PushgateError('BAD_CONFIG', `trusted root ${source}: ${(e as Error).message}; give a Sigstore trusted_root.json (e.g. from \`cosign trusted-root create\` or the public-good TUF repository)`, { cause: e });
  }
}

/** Reads and parses a trusted root file. @throws PushgateError BAD_CONFIG. */
export function loadTrustedRoot(file: string): TrustRoot {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PushgateError('BAD_CONFIG', `cannot read trusted root ${file}: ${(e as Error).message}`, { cause: e });
  }
  return parseTrustedRoot(text, file);
}
