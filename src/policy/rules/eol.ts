/**
 * `match.eol`: the image's OS release or a language runtime it carries is past the end of its regular
 * security support (endoflife.date's `eol`). `allowExtendedSupport` spares releases still under
 * extended support (Debian LTS, Ubuntu ESM, commercial support); `gracePeriod` waits that long after the
 * end of the support the rule accepts (regular, or extended when allowed). Dates are whole days, UTC: a release whose support ends on D is supported
 * through D.
 */
import { formatDuration, parseDuration } from '../../config/units.js';
import type { EolFinding } from '../../core/finding.js';
import type { EolMatchSpec, PolicyItem } from '../types.js';
import { anyGlob, plural, type RuleCompiler } from './common.js';

const DAY_MS = 24 * 3600 * 1000;

/** The one-line text of an end-of-life finding. */
export function eolText(f: EolFinding): string {
  const name = `${f.product} ${f.cycle}${f.codename ? ` (${f.codename})` : ''}`;
  const ext = f.extendedSupportUntil
    ? f.inExtendedSupport
      ? `; extended support until ${f.extendedSupportUntil}`
      : `; extended support ended ${f.extendedSupportUntil}`
    : '';
  const end = f.eol === 'unknown' ? 'is past its end of life' : `regular security support ended ${f.eol}`;
  return `${name}, found by ${f.via}${f.path ? ` in ${f.path}` : ''}: ${end}${ext}`;
}

/** Compiles an end-of-life rule. */
export const compileEolRule: RuleCompiler<EolMatchSpec> = (spec) => {
  const grace = spec.gracePeriod === undefined ? undefined : parseDuration(spec.gracePeriod);
  const kinds = new Set(spec.kinds ?? ['os', 'runtime']);
  const products = spec.products && anyGlob(spec.products);
  const conds: string[] = [];
  if (spec.allowExtendedSupport) conds.push('without extended support');
  if (grace !== undefined) conds.push(`ended ${formatDuration(grace)} ago or more`);
  if (spec.kinds) conds.push(spec.kinds.join('|'));
  if (spec.products) conds.push(`product ${spec.products.join('|')}`);
  const what = conds.length ? ` (${conds.join(', ')})` : '';
  return {
    match: ({ input, now }) => {
      const items: PolicyItem[] = [];
      for (const f of input.eol ?? []) {
        if (!kinds.has(f.id === 'os-eol' ? 'os' : 'runtime')) continue;
        if (products && !products(f.product)) continue;
        if (spec.allowExtendedSupport && f.inExtendedSupport) continue;
        // the grace runs from the end of the support the rule accepts (extended support when allowed);
        // the end date is the last supported day; an unknown date counts as long past
        const end = spec.allowExtendedSupport && f.extendedSupportUntil ? f.extendedSupportUntil : f.eol;
        const ended = end === 'unknown' ? -Infinity : Date.parse(`${end}T00:00:00Z`) + DAY_MS;
        if (grace !== undefined && now - ended < grace) continue;
        const item: PolicyItem = { id: f.id, package: `${f.product} ${f.cycle}`, installedVersion: f.version, text: eolText(f) };
        if (f.path) item.path = f.path;
        if (f.layer) item.layer = f.layer;
        items.push(item);
      }
      return items;
    },
    describe: (items) => `${plural(items.length, 'release', 'releases')} past end of life${what}`,
    advice: 'Rebuild on a supported release (endoflife.date lists the supported cycles)',
  };
};
