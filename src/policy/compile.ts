/**
 * Policy documents → {@link CompiledPolicy}: parse (with positions), validate against the schema,
 * check what the schema cannot say, compile rules, mappings and exceptions once.
 */
import { createHash, createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { ConfigError, type ConfigProblem } from '../config/errors.js';
import { PushgateError } from '../core/errors.js';
import { parseDuration } from '../config/units.js';
import {
  createAjv,
  displayPath,
  isMap,
  formatKey,
  parseLocated,
  problemAt,
  sortProblems,
  toJSLocated,
  validateLocated,
  type KeyPath,
} from '../config/yaml-doc.js';
import { policySchema } from './schema.js';
import { RULE_KINDS } from './rules/index.js';
import { glob, type ProblemSink } from './rules/common.js';
import { checkRegistryGlobs } from './registry-globs.js';
import type { RegistryHostsEntry } from '../core/host.js';
import type {
  CompiledAuthority,
  CompiledException,
  CompiledMapping,
  CompiledSignatureRule,
  CompiledPolicy,
  CompiledRule,
  CompiledRuleSet,
  ExceptionSpec,
  MappingSpec,
  PolicyDocument,
  RuleMatchSpec,
  RuleSetSpec,
  SignatureRuleSpec,
  SignatureAuthoritySpec,
} from './types.js';

/** Rule names pushgate itself uses in reasons; a document may not define rules with these names. */
export const RESERVED_RULE_NAMES = ['incomplete-scan', 'uncovered-ecosystem', 'severity-threshold', 'signature-pending'];

let validators: { doc: ValidateFunction; exception: ValidateFunction } | undefined;
function policyValidators() {
  if (!validators) {
    const ajv = createAjv();
    validators = {
      doc: ajv.compile(policySchema),
      exception: ajv.compile({ ...policySchema.properties.spec.properties.exceptions.items, $id: 'https://pushgate.dev/schemas/policy-v1-exception.json' }),
    };
  }
  return validators;
}

/** First 12 hex digits of the sha256 of `text`. */
export function revisionOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** True when YAML text is a policy document (`kind: Policy` at the top level). */
export function isPolicyText(text: string): boolean {
  const ld = parseLocated(text, '<probe>');
  // Only the top-level `kind`: converting the whole document could fail (an alias without anchor),
  // and that problem belongs to the document's own check.
  return isMap(ld.doc.contents) && ld.doc.get('kind') === 'Policy';
}

/** What the policy is compiled for. */
export interface PolicyTarget {
  /**
   * The gate's `registries[]`: registry globs then match their names, and a glob that names one of them
   * by host or in another case is a problem (src/policy/registry-globs.ts). Omitted for `pushgate scan`,
   * where a registry glob matches the reference's `host[:port]`.
   */
  registries?: readonly RegistryHostsEntry[];
}

/**
 * Reads and compiles a policy document.
 * @param target for the gate: its registries ({@link PolicyTarget}).
 * @throws ConfigError (BAD_CONFIG) with every problem located (`FILE:LINE:COL: KEY: message`),
 *   including a file that cannot be read.
 */
export function loadPolicy(file: string, target: PolicyTarget = {}): CompiledPolicy {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError([{ file: displayPath(file), line: 0, col: 0, key: '(file)', message: `cannot read the policy: ${why}` }], 'invalid policy');
  }
  return compilePolicy(text, path.resolve(file), target);
}

/**
 * Compiles policy YAML text. `source` is where it came from (a path or `<built-in>`), used in problems
 * and in {@link CompiledPolicy.source}.
 * @throws ConfigError (BAD_CONFIG) with every problem located: the schema's problems first (in line
 *   order), then the compiler's own checks (names, references, ranges, ecosystems, scopes) of the parts
 *   that passed the schema; with `target.registries`, registry globs that name a registry otherwise
 *   than by its name.
 */
export function compilePolicy(yamlText: string, source: string, target: PolicyTarget = {}): CompiledPolicy {
  const ld = parseLocated(yamlText, displayPath(source));
  if (ld.problems.length) throw new ConfigError(sortProblems(ld.problems), 'invalid policy');
  const converted = toJSLocated(ld);
  if (!converted) throw new ConfigError(sortProblems(ld.problems), 'invalid policy');
  const value = converted.value;
  const schemaProblems: ConfigProblem[] = validateLocated(ld, policyValidators().doc, value ?? {});
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    if (!schemaProblems.length) schemaProblems.push(problemAt(ld, [], 'a policy document is a mapping with apiVersion, kind, metadata and spec'));
    throw new ConfigError(sortProblems(schemaProblems), 'invalid policy');
  }
  // The checks the schema cannot say run in the same pass, on the parts that passed the schema, so
  // that fixing one kind of problem does not reveal the other only on the next run.
  const semantic: ConfigProblem[] = [];
  const problem: ProblemSink = (at, message) => semantic.push(problemAt(ld, at, message));
  const schema = schemaVerdict(schemaProblems);
  let compiled: CompiledPolicy | undefined;
  try {
    compiled = compileDocument(value as PolicyDocument, problem, source, yamlText, schema);
  } catch (err) {
    // Only possible on a part the schema rejected; its schema problem says what is wrong.
    if (!schemaProblems.length) throw err;
  }
  if (target.registries) checkRegistryGlobs(value as PolicyDocument, target.registries, problem);
  if (schemaProblems.length || semantic.length || !compiled) {
    throw new ConfigError([...sortProblems(schemaProblems), ...sortProblems(semantic)], 'invalid policy');
  }
  return compiled;
}

/**
 * Compiles a policy shipped with pushgate from its parsed document (`doc`) and its text (for the
 * revision), without a YAML parser or the JSON schema: only for a document a test checks against
 * the schema and against its text (the built-in policy, default-policy-document.ts). The
 * compiler's own checks run; a problem there is a bug in pushgate.
 * @throws PushgateError INTERNAL naming the problems.
 */
export function compileShippedPolicy(doc: PolicyDocument, text: string, source: string): CompiledPolicy {
  const problems: string[] = [];
  const compiled = compileDocument(doc, (at, message) => problems.push(`${formatKey(at)}: ${message}`), source, text, schemaVerdict([]));
  if (problems.length || !compiled) throw new PushgateError('INTERNAL', `${source} policy does not compile: ${problems.join('; ') || 'no spec'}`);
  return compiled;
}

/** Which parts of a document passed the schema; the compiler's own checks look only at those. */
interface SchemaVerdict {
  /** No schema problem at `at`, below it, or at an ancestor: the part is as the schema describes. */
  sound(at: KeyPath): boolean;
  /** No schema problem at `at` or at an ancestor: its own shape holds (its children may not). */
  shaped(at: KeyPath): boolean;
}

function schemaVerdict(problems: ConfigProblem[]): SchemaVerdict {
  if (!problems.length) return { sound: () => true, shaped: () => true };
  const keys = problems.map((p) => p.key);
  // `inner` is `outer` or lies below it (keys as formatKey writes them: `a.b[0].c`).
  const within = (inner: string, outer: string) =>
    outer === '(document)' || inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
  return {
    sound: (at) => {
      const k = formatKey(at);
      return keys.every((p) => !within(p, k) && !within(k, p));
    },
    shaped: (at) => {
      const k = formatKey(at);
      return keys.every((p) => !within(k, p));
    },
  };
}

function compileDocument(doc: PolicyDocument, problem: ProblemSink, source: string, text: string, schema: SchemaVerdict): CompiledPolicy | undefined {
  if (!schema.shaped(['spec'])) return undefined;
  const ruleSets: Record<string, CompiledRuleSet> = {};
  // Rule set names are known when `spec.ruleSets` is a mapping, even if some rule sets are invalid.
  const setsKnown = schema.shaped(['spec', 'ruleSets']);
  if (setsKnown) {
    for (const [name, rs] of Object.entries(doc.spec.ruleSets)) {
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
        problem(['spec', 'ruleSets', name], 'rule set names are lowercase letters, digits, ".", "_" and "-"');
      }
      ruleSets[name] = compileRuleSet(name, rs, ['spec', 'ruleSets', name], problem, schema);
    }
  }
  const names = Object.keys(ruleSets);
  const checkSet = (rs: string, at: KeyPath) => {
    if (setsKnown && schema.sound(at) && !ruleSets[rs]) problem(at, `no rule set named "${rs}" (defined: ${names.join(', ')})`);
  };
  const mappings: CompiledMapping[] = [];
  if (schema.shaped(['spec', 'mappings'])) {
    (doc.spec.mappings ?? []).forEach((m, i) => {
      checkSet(m.ruleSet, ['spec', 'mappings', i, 'ruleSet']);
      if (schema.sound(['spec', 'mappings', i])) {
        checkGrace(m.grace, ['spec', 'mappings', i, 'grace'], problem);
        mappings.push(compileMapping(m, m.name ?? `mappings[${i}]`));
      }
    });
  }
  let defaultMapping: CompiledMapping;
  if (doc.spec.default) {
    checkSet(doc.spec.default.ruleSet, ['spec', 'default', 'ruleSet']);
    if (schema.sound(['spec', 'default', 'grace'])) checkGrace(doc.spec.default.grace, ['spec', 'default', 'grace'], problem);
    defaultMapping = compileMapping({ ruleSet: doc.spec.default.ruleSet, mode: doc.spec.default.mode, onNewFindings: doc.spec.default.onNewFindings, grace: doc.spec.default.grace }, 'default');
  } else {
    if (setsKnown && !ruleSets.default) problem(['spec', 'default'], 'is required unless a rule set is named "default"');
    defaultMapping = compileMapping({ ruleSet: 'default' }, 'default');
  }
  const exceptions: CompiledException[] = [];
  if (schema.shaped(['spec', 'exceptions'])) {
    (doc.spec.exceptions ?? []).forEach((e, i) => {
      if (schema.sound(['spec', 'exceptions', i])) exceptions.push(compileException(e, i, ['spec', 'exceptions', i], problem));
    });
  }
  return {
    name: doc.metadata.name,
    revision: revisionOf(text),
    source,
    text,
    document: doc,
    ruleSets,
    mappings,
    defaultMapping,
    exceptions,
    signatures: schema.shaped(['spec', 'signatures']) ? compileSignatureRules(doc.spec.signatures ?? [], problem, schema) : [],
    vexAuthorities: schema.sound(['spec', 'vex']) && doc.spec.vex ? compileAuthorities(doc.spec.vex.authorities, ['spec', 'vex'], problem) : [],
    ...(schema.sound(['spec', 'severity']) && doc.spec.severity?.prefer ? { severityPrefer: doc.spec.severity.prefer } : {}),
  };
}

function compileRuleSet(name: string, rs: RuleSetSpec, at: KeyPath, problem: ProblemSink, schema: SchemaVerdict): CompiledRuleSet {
  const seen = new Map<string, number>();
  // A rule set the schema rejected as a whole still has a name (mappings may name it), nothing else.
  const own: Partial<RuleSetSpec> = schema.shaped(at) ? rs : {};
  const excludeBase = own.excludeBase ?? false;
  const rules: CompiledRule[] = [];
  (schema.shaped([...at, 'rules']) ? (own.rules ?? []) : []).forEach((r, i) => {
    const rAt = [...at, 'rules', i];
    if (schema.sound([...rAt, 'name'])) {
      if (seen.has(r.name)) problem([...rAt, 'name'], `duplicate rule name (also rules[${seen.get(r.name)}])`);
      seen.set(r.name, i);
      if (RESERVED_RULE_NAMES.includes(r.name)) problem([...rAt, 'name'], `"${r.name}" is reserved for pushgate's own reasons`);
    }
    if (!schema.sound(rAt)) return;
    const kind = Object.keys(r.match)[0] as keyof RuleMatchSpec;
    const compiler = RULE_KINDS[kind] as (s: unknown, rule: typeof r, at: KeyPath, p: ProblemSink) => ReturnType<(typeof RULE_KINDS)['secret']>;
    const body = compiler(r.match[kind], r, [...rAt, 'match', kind], problem);
    rules.push({ name: r.name, action: r.action, kind, excludeBase: r.excludeBase ?? excludeBase, ...body });
  });
  return {
    name,
    onIncomplete: own.onIncomplete ?? 'quarantine',
    onUncovered: own.onUncovered ?? 'warn',
    unknownSeverity: own.unknownSeverity ?? 'ignore',
    excludeBase,
    rules,
  };
}

/**
 * The longest `grace` a mapping may give a severity, ms (3650 days, about 10 years). A hold's due time is
 * a finding's first-seen time plus its grace, stored as a bigint on PostgreSQL and written as an ISO date
 * in the hold's reason: a grace meant as "never" (`1000000000000w`) overflowed both, and the monitor's
 * pass failed at every tick. `onNewFindings: notify` or `warn` is the way to say "never block".
 */
export const MAX_GRACE_MS = 3650 * 86_400_000;

/** A problem for each `grace` duration of a mapping longer than {@link MAX_GRACE_MS}. */
function checkGrace(grace: MappingSpec['grace'], at: KeyPath, problem: ProblemSink): void {
  for (const [sev, d] of Object.entries(grace ?? {})) {
    let ms: number;
    try {
      ms = parseDuration(d as string);
    } catch {
      continue; // the schema says what is wrong with it
    }
    if (!(ms <= MAX_GRACE_MS)) problem([...at, sev], `is ${d}, longer than the longest grace, 3650d (about 10 years): to never block on new findings, set onNewFindings to notify or warn`);
  }
}

function compileMapping(m: MappingSpec, name: string): CompiledMapping {
  const fields = (['registry', 'repository', 'tag'] as const).flatMap((f) => (m[f] === undefined ? [] : [{ f, test: glob(m[f] as string) }]));
  const repoFields = fields.filter(({ f }) => f !== 'tag');
  return {
    name,
    ruleSet: m.ruleSet,
    mode: m.mode ?? 'enforce',
    onNewFindings: m.onNewFindings ?? 'notify',
    graceMs: Object.fromEntries(Object.entries(m.grace ?? {}).map(([sev, d]) => [sev, parseDuration(d as string)])),
    constrainsTag: m.tag !== undefined,
    matches: (input) => fields.every(({ f, test }) => input[f] !== undefined && test(input[f] as string)),
    matchesRepository: (input) =>
      repoFields.every(({ f, test }) => {
        const v = f === 'registry' ? input.registry : input.repository;
        return v !== undefined && test(v);
      }),
  };
}

/**
 * `spec.signatures`: names unique, keys parse as public keys, subject expressions compile (anchored
 * at both ends, so `subjectRegExp: https://github.com/org/.*` cannot match a longer identity that
 * merely contains it).
 */
function compileSignatureRules(specs: SignatureRuleSpec[], problem: ProblemSink, schema: SchemaVerdict): CompiledSignatureRule[] {
  const out: CompiledSignatureRule[] = [];
  const names = new Map<string, number>();
  specs.forEach((r, i) => {
    const at: KeyPath = ['spec', 'signatures', i];
    if (!schema.sound(at)) return;
    if (names.has(r.name)) problem([...at, 'name'], `duplicate signature rule name (also signatures[${names.get(r.name)}])`);
    names.set(r.name, i);
    const authorities = compileAuthorities(r.authorities, at, problem);
    const reg = r.registry === undefined ? undefined : glob(r.registry);
    const repo = glob(r.repository);
    out.push({
      name: r.name,
      require: r.require ?? 'anyOf',
      mode: r.mode ?? 'enforce',
      authorities,
      matches: (registry, repository) => (reg === undefined || reg(registry)) && repo(repository),
    });
  });
  return out;
}

/**
 * Authorities (of a signature rule, or `spec.vex`): names unique in their list, keys parse as public
 * keys, subject expressions compile (anchored at both ends).
 */
function compileAuthorities(specs: SignatureAuthoritySpec[], at: KeyPath, problem: ProblemSink): CompiledAuthority[] {
  const authorities: CompiledAuthority[] = [];
  const seen = new Set<string>();
  specs.forEach((a, j) => {
    const aAt: KeyPath = [...at, 'authorities', j];
    if (seen.has(a.name)) problem([...aAt, 'name'], 'duplicate authority name in this list');
    seen.add(a.name);
    if (a.key !== undefined) {
      try {
        const publicKey = createPublicKey(a.key);
        if (publicKey.type !== 'public') throw new Error('not a public key');
        authorities.push({ name: a.name, kind: 'key', publicKey });
      } catch (e) {
        problem([...aAt, 'key'], `is not a PEM public key (${(e as Error).message}); paste the contents of cosign.pub`);
      }
      return;
    }
    const k = a.keyless!;
    let subjectRegExp: RegExp | undefined;
    if (k.subjectRegExp !== undefined) {
      try {
        subjectRegExp = new RegExp(`^(?:${k.subjectRegExp})$`);
      } catch (e) {
        problem([...aAt, 'keyless', 'subjectRegExp'], `is not a regular expression: ${(e as Error).message}`);
        return;
      }
    }
    authorities.push({ name: a.name, kind: 'keyless', issuer: k.issuer, ...(k.subject !== undefined ? { subject: k.subject } : {}), ...(subjectRegExp ? { subjectRegExp } : {}) });
  });
  return authorities;
}

/** Last instant an exception applies: a date means through the end of that day (UTC). */
function expiryOf(expires: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(expires) ? Date.parse(`${expires}T23:59:59.999Z`) : Date.parse(expires);
}

function compileException(e: ExceptionSpec, i: number, at: KeyPath, problem: ProblemSink): CompiledException {
  if (!e.ids && !e.packages && !e.repository && !e.digest) {
    problem(at, 'an exception needs a scope: ids, packages, repository or digest');
  }
  const ids = e.ids && new Set(e.ids.map((s) => s.toLowerCase()));
  const pkgs = e.packages?.map(glob);
  const repo = e.repository === undefined ? undefined : glob(e.repository);
  const reg = e.registry === undefined ? undefined : glob(e.registry);
  const rules = e.rules && new Set(e.rules);
  return {
    name: e.name ?? `exceptions[${i}]`,
    spec: e,
    expiresAt: expiryOf(e.expires),
    coversImage: (input) =>
      (repo === undefined || (input.repository !== undefined && repo(input.repository))) &&
      (reg === undefined || (input.registry !== undefined && reg(input.registry))) &&
      (e.digest === undefined || input.digest === e.digest),
    coversItem: (rule, item) =>
      (!rules || rules.has(rule)) &&
      (!ids || ids.has(item.id.toLowerCase()) || (item.aliases ?? []).some((a) => ids.has(a.toLowerCase()))) &&
      (!pkgs || (item.package !== undefined && pkgs.some((m) => m(item.package as string)))),
  };
}

/**
 * A copy of `policy` with more exceptions (e.g. added through the admin API), validated like those of
 * a document. Their names default to `extra[i]`. With `opts.now` (ms since the epoch), an exception
 * that has already expired at that instant is a problem too (a new exception must be in force; stored
 * ones that have since expired are loaded without `now` and simply stop applying).
 * @throws ConfigError listing every invalid exception (file `<exceptions[i]>`, key the field).
 */
export function withExceptions(policy: CompiledPolicy, specs: ExceptionSpec[], opts: { now?: number } = {}): CompiledPolicy {
  const problems: ConfigProblem[] = [];
  const extra = specs.map((s, i) => {
    const ld = parseLocated(JSON.stringify(s, null, 2), `<exceptions[${i}]>`);
    const sink: ProblemSink = (at, message) => problems.push(problemAt(ld, at, message));
    const invalid = validateLocated(ld, policyValidators().exception, s);
    problems.push(...invalid);
    // The compiler assumes the schema's shapes (strings, arrays). A spec that failed the schema is still
    // compiled for its other problems (a missing scope), but a crash on a wrong shape is not one of them:
    // the schema already named it.
    if (invalid.length) {
      try {
        compileException({ ...s, name: s.name ?? `extra[${i}]` }, i, [], sink);
      } catch {
        /* reported by the schema */
      }
      return undefined;
    }
    const compiled = compileException({ ...s, name: s.name ?? `extra[${i}]` }, i, [], sink);
    if (opts.now !== undefined && compiled.expiresAt < opts.now) {
      const whole = /^\d{4}-\d{2}-\d{2}$/.test(s.expires) ? ' (a date lasts through that day, UTC)' : '';
      sink(['expires'], `${s.expires} is in the past${whole}: an exception must expire after now (${new Date(opts.now).toISOString()})`);
    }
    return compiled;
  });
  if (problems.length) throw new ConfigError(problems, 'invalid exceptions');
  return { ...policy, exceptions: [...policy.exceptions, ...extra.filter((e) => e !== undefined)] };
}
