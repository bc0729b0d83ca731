/**
 * The configuration validator generated at build time (ajv standalone code, src/config/config-validator.ts)
 * answers as the schema compiled by ajv at run time: the same verdict and the same errors (which the
 * loader turns into located problems) on every configuration the schema's shape generates, valid or
 * not, and on the fixture files; and a generated file that is missing, corrupt or made from another
 * schema is never used.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { ValidateFunction } from 'ajv';
import { configSchemaHash, configValidator, configValidatorSource, generatedValidator, generatedValidatorAt } from '../../../src/config/config-validator.js';
import { configSchema } from '../../../src/config/schema.js';
import { createAjv, parseLocated, toJSLocated } from '../../../src/config/yaml-doc.js';
import { ROOT } from '../../helpers/lab.js';

const requireHere = createRequire(import.meta.url);

/** Runs a generated module's source as CommonJS (its `require` resolves ajv from this checkout). */
function evaluate(source: string): unknown {
  const module = { exports: {} as unknown };
  new Function('module', 'exports', 'require', source)(module, module.exports, requireHere);
  return module.exports;
}

type Schema = {
  type?: string | readonly string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean;
  required?: readonly string[];
  items?: Schema;
  enum?: readonly unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  minItems?: number;
  minLength?: number;
  maximum?: number;
};

/** Strings that hit the formats and patterns of the schema both ways. */
const STRINGS = ['', 'x', '5m', '30s', '500ms', '14d', '1h', '5', 'm5', '512MiB', '2GB', '1048576', '-1', '1.5GiB', 'abc',
  '0.0.0.0:8080', '127.0.0.1:9090', '[::1]:80', 'host:99999', ':8080', 'https://r.example', 'http://a:5000/x', 'ftp://x',
  'sqlite:/tmp/x.db', 'postgres://u@h/db', 'postgresql://h', 'library/*', 'A B', '2026-12-31', '2026-12-31T10:00:00Z', '${X}'];

/** Members of {@link STRINGS} that a format accepts (the others mostly do not). */
const FORMAT_SAMPLES: Record<string, string[]> = { duration: ['5m', '30s', '500ms', '14d', '1h'], size: ['512MiB', '2GB', '1048576'] };

/**
 * Values shaped by `s`. Not `noisy`: what it asks for (some properties of each object with its
 * required ones, items of their type, enum members, strings from {@link STRINGS} that fit the
 * pattern, format and length, numbers in range), nearly always valid. `noisy`: now and then
 * something else at any node (an unknown key, a value of another type, a string or number that does
 * not fit, too few items), so that every kind of error occurs, often several in one document.
 */
function valueOf(s: Schema, noisy: boolean, depth = 0): fc.Arbitrary<unknown> {
  const other = fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -5, max: 100_000 }), fc.double({ noNaN: true }), fc.constantFrom(...STRINGS), fc.constant([]), fc.constant({}));
  /** `good`, or in a noisy document sometimes `bad`. */
  const mostly = (good: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>) => (noisy ? fc.oneof({ arbitrary: good, weight: 30 }, { arbitrary: bad, weight: 1 }) : good);
  const types = s.type === undefined ? [] : typeof s.type === 'string' ? [s.type] : [...s.type];
  const shaped: Array<fc.Arbitrary<unknown>> = [];
  if (s.enum) shaped.push(fc.constantFrom(...s.enum));
  for (const t of types) {
    if (t === 'object' && depth < 6) {
      const props = Object.entries(s.properties ?? {});
      const rec = props.length
        ? fc.record(Object.fromEntries(props.map(([k, v]) => [k, valueOf(v, noisy, depth + 1)])), { requiredKeys: [...(s.required ?? [])] })
        : fc.constant({});
      const extra = mostly(fc.constant(null), fc.tuple(fc.constantFrom('unknownKey', 'Listen', 'x'), other)) as fc.Arbitrary<[string, unknown] | null>;
      shaped.push(fc.tuple(rec, extra).map(([o, x]) => (x ? { ...o, [x[0]]: x[1] } : o)));
    } else if (t === 'array' && depth < 6) {
      const min = s.minItems ?? 0;
      shaped.push(mostly(fc.array(s.items ? valueOf(s.items, noisy, depth + 1) : other, { minLength: min, maxLength: min + 2 }), fc.constant([])));
    } else if (t === 'string') {
      const fit = STRINGS.filter((x) => (!s.pattern || new RegExp(s.pattern, 'u').test(x)) && (!s.format || (FORMAT_SAMPLES[s.format] ?? []).includes(x)) && x.length >= (s.minLength ?? 0));
      const any = fc.oneof(fc.constantFrom(...STRINGS), fc.string({ maxLength: 8 }));
      shaped.push(fit.length ? mostly(fc.constantFrom(...fit), any) : any);
    } else if (t === 'integer' || t === 'number') {
      const [min, max] = [s.minimum ?? 0, s.maximum ?? 100_000];
      shaped.push(mostly(t === 'integer' ? fc.integer({ min, max }) : fc.double({ noNaN: true, min, max }), fc.constantFrom(min - 1, max + 1, -1, 0.5)));
    } else if (t === 'boolean') shaped.push(fc.boolean());
  }
  return shaped.length ? mostly(fc.oneof(...shaped), other) : other;
}

/** What a validator says of `value`: the verdict and the errors as the loader reads them. */
function verdict(v: ValidateFunction, value: unknown): { ok: boolean; errors: unknown } {
  const ok = v(value) as boolean;
  return { ok, errors: JSON.parse(JSON.stringify(v.errors ?? null)) as unknown };
}

describe('config: the generated configuration validator', () => {
  let runtime: ValidateFunction;
  let generated: ValidateFunction;
  let source: string;
  let tmp: string;
  before(() => {
    runtime = createAjv().compile(configSchema);
    source = configValidatorSource();
    const v = generatedValidator(evaluate(source));
    if (!v) throw new Error('the generated module was not accepted');
    generated = v;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-config-validator-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('answers every generated configuration as the runtime-compiled schema does (verdict and errors)', () => {
    let valid = 0;
    let invalid = 0;
    fc.assert(fc.property(fc.boolean().chain((noisy) => valueOf(configSchema as unknown as Schema, noisy)), (value) => {
      const want = verdict(runtime, value);
      expect(verdict(generated, value)).to.deep.equal(want);
      if (want.ok) valid++;
      else invalid++;
    }), { numRuns: 600 });
    // Both sides of the schema were exercised.
    expect(valid).to.be.greaterThan(100);
    expect(invalid).to.be.greaterThan(100);
  });

  it('answers the configuration fixtures as the runtime-compiled schema does', () => {
    const dir = path.join(ROOT, 'test/fixtures/config');
    const files = fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).to.be.greaterThan(1);
    for (const f of files) {
      const ld = parseLocated(fs.readFileSync(path.join(dir, f), 'utf8'), f);
      const value = toJSLocated(ld) ?? {};
      expect(verdict(generated, value), f).to.deep.equal(verdict(runtime, value));
    }
  });

  it('a generated file is used only when it loads and was made from this schema', () => {
    const file = (name: string, text: string) => {
      const p = path.join(tmp, name);
      fs.writeFileSync(p, text);
      return p;
    };
    // The file requires ajv's run-time helpers from its own place: inside this checkout (.cache/ is ignored by git).
    fs.mkdirSync(path.join(ROOT, '.cache'), { recursive: true });
    const inside = fs.mkdtempSync(path.join(ROOT, '.cache', 'config-validator-'));
    try {
      const good = path.join(inside, 'config-validator.cjs');
      fs.writeFileSync(good, source);
      const v = generatedValidatorAt(good);
      expect(v).to.be.a('function');
      expect(v!({ server: { listen: '0.0.0.0:8080' } })).to.equal(true);
      expect(v!({ server: { readTimeout: '5' } })).to.equal(false);
    } finally {
      fs.rmSync(inside, { recursive: true, force: true });
    }
    expect(generatedValidatorAt(path.join(tmp, 'absent.cjs'))).to.equal(undefined);
    expect(generatedValidatorAt(file('garbage.cjs', '\u0000\u0001 not javascript {{{'))).to.equal(undefined);
    expect(generatedValidatorAt(file('throws.cjs', 'throw new Error("boom");'))).to.equal(undefined);
    expect(generatedValidatorAt(file('empty.cjs', ''))).to.equal(undefined);
    expect(generatedValidatorAt(file('truncated.cjs', source.slice(0, source.length >> 1)))).to.equal(undefined);
    const stale = source.replace(configSchemaHash(), '0'.repeat(64));
    expect(stale).to.not.equal(source);
    expect(generatedValidatorAt(file('stale.cjs', stale))).to.equal(undefined);
    expect(generatedValidatorAt(file('bad-create.cjs', `exports.schemaHash = ${JSON.stringify(configSchemaHash())}; exports.create = () => { throw new Error("x"); };`))).to.equal(undefined);
    // Whatever the file, the loader has a validator.
    expect(configValidator()).to.be.a('function');
  });
});
