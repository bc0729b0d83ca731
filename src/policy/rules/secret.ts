/**
 * `match.secret`: secrets found in the image's files, by secret rule id (globs) and severity.
 * Only the redacted form ever appears in reasons.
 */
import { parseSeverity } from '../../core/finding.js';
import type { PolicyItem, SecretMatchSpec } from '../types.js';
import { anyGlob, atLeast, plural, type RuleCompiler } from './common.js';

/** Compiles a secret rule. */
export const compileSecretRule: RuleCompiler<SecretMatchSpec> = (spec) => {
  const rules = spec.rules && anyGlob(spec.rules);
  return {
    match: (ctx) => {
      const out: PolicyItem[] = [];
      for (const s of ctx.input.secrets) {
        if (rules && !rules(s.rule)) continue;
        if (spec.minSeverity && !atLeast(parseSeverity(s.severity), spec.minSeverity)) continue;
        const item: PolicyItem = {
          id: s.rule,
          severity: s.severity,
          path: s.path,
          text: `${s.rule} in ${s.path}${s.line ? `:${s.line}` : ''} (${s.redacted})`,
        };
        if (s.layer) item.layer = s.layer;
        if (s.origin) item.origin = s.origin;
        out.push(item);
      }
      return out;
    },
    describe: (items) => `${plural(items.length, 'secret', 'secrets')} in the image`,
    advice: 'Remove them from the image and its build history (a later layer deleting a file does not), and rotate them',
  };
};
