/**
 * Judging a signature rule: every found signature against every authority of the rule, `anyOf`
 * (one authority suffices) or `allOf` (each authority needs a valid signature of its own).
 */
import type { Authority, FoundSignature, SignatureLayout, SignedImage, TrustRoot } from './types.js';
import { verifyLegacyWithKey } from './cosign-legacy.js';
import { verifyBundle, verifyLegacyKeyless } from './sigstore-verify.js';

/** What a rule needs (policy `spec.signatures[]`, compiled). */
export interface SignatureRequirement {
  name: string;
  require: 'anyOf' | 'allOf';
  mode: 'enforce' | 'warn';
  authorities: Authority[];
}

/** The outcome of one rule for one image. */
export interface SignatureCheck {
  rule: string;
  mode: 'enforce' | 'warn';
  satisfied: boolean;
  /** Authorities with a valid signature, and what they proved. */
  verified: Array<{ authority: string; identity: string; layout: SignatureLayout; source: string }>;
  /** Authorities without one. */
  missing: string[];
  /** One sentence a person can act on: what was required, what was found, why it failed. */
  message: string;
  /** When the check ran, ms since the epoch. */
  checkedAt: number;
}

const WHY_SHOWN = 3;

function verifyOne(sig: FoundSignature, a: Authority, image: SignedImage, root: TrustRoot | undefined): { identity: string } | { why: string } {
  if (sig.layout === 'sigstore-bundle-referrer') return sig.bundle ? verifyBundle(sig.bundle, a, image, root) : { why: 'referrer has no bundle layer' };
  if (a.kind === 'key') {
    const why = verifyLegacyWithKey(sig, a, image);
    return why ? { why } : { identity: `key ${a.name}` };
  }
  if (!sig.certificate) return { why: 'signed with a key, not with a certificate' };
  return verifyLegacyKeyless(sig, a, image, root);
}

/**
 * Judges `rule` on the signatures found for `image`.
 * @param problems what could not be read while collecting (named in the message when unsatisfied).
 * @param root trusted root for keyless authorities (undefined: keyless authorities cannot be satisfied).
 */
export function checkSignatures(rule: SignatureRequirement, found: FoundSignature[], problems: string[], image: SignedImage, root: TrustRoot | undefined, now = Date.now()): SignatureCheck {
  const verified: SignatureCheck['verified'] = [];
  const missing: string[] = [];
  const why: string[] = [];
  for (const a of rule.authorities) {
    let ok = false;
    for (const sig of found) {
      const r = verifyOne(sig, a, image, root);
      if ('identity' in r) {
        verified.push({ authority: a.name, identity: r.identity, layout: sig.layout, source: sig.source });
        ok = true;
        break;
      }
      why.push(`${sig.source}: ${r.why}`);
    }
    if (!ok) missing.push(a.name);
  }
  const satisfied = rule.require === 'anyOf' ? verified.length > 0 : missing.length === 0;
  const names = rule.authorities.map((a) => a.name).join(', ');
  const need = rule.require === 'anyOf' ? `a valid signature by one of: ${names}` : `valid signatures by all of: ${names}`;
  let message: string;
  if (satisfied) {
    message = `signature rule ${rule.name}: signed by ${verified.map((v) => `${v.authority} (${v.identity})`).join(', ')}`;
  } else if (found.length === 0) {
    const extra = problems.length ? `; unreadable: ${problems.slice(0, WHY_SHOWN).join('; ')}` : '';
    message = `signature rule ${rule.name}: unsigned — requires ${need}; no cosign signature found (neither a ${'`sha256-<hex>.sig`'} tag nor a Sigstore bundle referrer)${extra}. Sign the image digest (cosign sign) and retry`;
  } else {
    const shown = [...new Set([...why, ...problems])];
    const more = shown.length > WHY_SHOWN ? ` (+${shown.length - WHY_SHOWN} more)` : '';
    const lacking = rule.require === 'allOf' ? `; missing: ${missing.join(', ')}` : '';
    message = `signature rule ${rule.name}: requires ${need}${lacking}; ${found.length} signature(s) found, none valid for it: ${shown.slice(0, WHY_SHOWN).join('; ')}${more}`;
  }
  return { rule: rule.name, mode: rule.mode, satisfied, verified, missing, message, checkedAt: now };
}
