/** The rule kinds, listed explicitly: `match.<kind>` → its compiler. */
import type { RuleMatchSpec } from '../types.js';
import { compileBaseImageRule } from './base-image.js';
import { compileEolRule } from './eol.js';
import type { RuleCompiler } from './common.js';
import { compileImageRule } from './image-config.js';
import { compilePackageDenylistRule } from './package-denylist.js';
import { compileSecretRule } from './secret.js';
import { compileVulnerabilityRule } from './vulnerability.js';

/** Every rule kind's compiler, keyed by its `match` key. */
export const RULE_KINDS: { [K in keyof Required<RuleMatchSpec>]: RuleCompiler<Required<RuleMatchSpec>[K]> } = {
  vulnerability: compileVulnerabilityRule,
  packages: compilePackageDenylistRule,
  secret: compileSecretRule,
  image: compileImageRule,
  baseImage: compileBaseImageRule,
  eol: compileEolRule,
};
