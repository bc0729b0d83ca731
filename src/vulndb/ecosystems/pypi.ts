/**
 * PyPI version order: PEP 440 (https://peps.python.org/pep-0440/) through @renovatebot/pep440.
 * Versions that are not PEP 440 are "legacy versions" ordered as packaging < 22 `LegacyVersion` did
 * (setuptools' old parse_version key, epoch -1), so every legacy version sorts before every PEP 440
 * version.
 */
import { pep440 } from '../libs.js';
import { PushgateError } from '../../core/errors.js';
import { type Cmp, type Comparator, memoParse, sign } from './types.js';

const REPLACE: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };

/** packaging.version._legacy_cmpkey parts. */
export function legacyKey(v: string): string[] {
  const parts: string[] = [];
  const raw = v.toLowerCase().split(/(\d+|[a-z]+|\.|-)/);
  const gen: string[] = [];
  for (let part of raw) {
    part = REPLACE[part] ?? part;
    if (!part || part === '.') continue;
    gen.push(/^[0-9]/.test(part) ? part.padStart(8, '0') : `*${part}`);
  }
  gen.push('*final');
  for (const part of gen) {
    if (part.startsWith('*')) {
      if (part < '*final') while (parts.length && parts[parts.length - 1] === '*final-') parts.pop();
      while (parts.length && parts[parts.length - 1] === '00000000') parts.pop();
    }
    parts.push(part);
  }
  return parts;
}

function cmpTuple(a: string[], b: string[]): Cmp {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return sign(a.length - b.length);
}

const isPep440 = memoParse((v: string) => pep440().valid(v) !== null);
const legacyKeyCached = memoParse(legacyKey);

/** Compares two PyPI versions (PEP 440; legacy versions first). */
export function comparePyPI(a: string, b: string): Cmp {
  if (a.trim() === '' || b.trim() === '') throw new PushgateError('BAD_ARGUMENT', 'invalid PyPI version "": empty');
  const va = isPep440(a);
  const vb = isPep440(b);
  if (va && vb) return a === b ? 0 : sign(pep440().compare(a, b));
  if (va !== vb) return va ? 1 : -1;
  return cmpTuple(legacyKeyCached(a), legacyKeyCached(b));
}

/** The PyPI comparator. */
export const pypi: Comparator = { name: 'pep440', compare: comparePyPI };
