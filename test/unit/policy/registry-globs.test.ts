/**
 * Registry globs of a policy loaded by the gate: they match `registries[].name`, so one that names a
 * guarded registry by host (any spelling the host normalizer reads as it: case, default port, IP and
 * loopback spellings, an alias, a glob over them) or by its name in another case matched nothing. A
 * signature rule so written required no signature: the unsigned image was admitted. Such globs are
 * refused at load, in each list (mappings, signatures, exceptions), naming the registry to write.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { domainToUnicode } from 'node:url';
import { glob } from '../../../src/policy/rules/common.js';
import { ConfigError, formatProblem } from '../../../src/config/errors.js';
import { defaultConfig } from '../../../src/config/load.js';
import type { Gate } from '../../../src/gate/gate.js';
import { PolicyControl } from '../../../src/gate/reevaluate.js';
import { compilePolicy, loadPolicy, type CompiledPolicy } from '../../../src/policy/index.js';
import { openStore } from '../../../src/store/index.js';
import { silentLogger } from '../../helpers/gate.js';
import { registriesNamedOtherwise } from '../../../src/policy/registry-globs.js';

const REGISTRIES = [
  { name: 'prod', url: 'https://registry.example.test', aliases: ['mirror.example.test:8443'] },
  { name: 'lab', url: 'http://127.0.0.1:5000' },
];
const key = String(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
const indented = key.trim().split('\n').map((l) => `            ${l}`).join('\n');

/** A policy whose `list` has one entry with `registry: <pattern>`. */
function policy(list: 'mappings' | 'signatures' | 'exceptions', pattern: string): string {
  const reg = JSON.stringify(pattern);
  const body = {
    mappings: `  mappings:\n    - { registry: ${reg}, repository: "**", ruleSet: default }\n`,
    signatures: `  signatures:\n    - name: release\n      registry: ${reg}\n      repository: "**"\n      authorities:\n        - name: k\n          key: |\n${indented}\n`,
    exceptions: `  exceptions:\n    - { registry: ${reg}, ids: [CVE-2024-0001], reason: r, owner: sec, expires: "2999-01-01" }\n`,
  }[list];
  return `apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata: { name: t }\nspec:\n  ruleSets:\n    default: { rules: [] }\n${body}`;
}

function problems(text: string, target: { registries?: typeof REGISTRIES } = { registries: REGISTRIES }): string[] {
  try {
    compilePolicy(text, '<t>', target);
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as ConfigError).problems.map(formatProblem);
  }
  return [];
}

/** `s` with the case of each letter chosen by `upper`. */
const recase = (s: string, upper: boolean[]) => [...s].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c)).join('');

const HOST_SPELLINGS = [
  ['registry.example.test', 'prod'],
  ['registry.example.test:443', 'prod'],
  ['registry.example.test.', 'prod'],
  ['mirror.example.test:8443', 'prod'],
  ['*.example.test', 'prod'],
  ['registry.*', 'prod'],
  ['127.0.0.1:5000', 'lab'],
  ['127.1:5000', 'lab'],
  ['localhost:5000', 'lab'],
  ['[::1]:5000', 'lab'],
  ['127.0.0.1:*', 'lab'],
  ['PROD', 'prod'],
  ['La*', 'lab'],
] as const;

describe('policy registry globs in the gate (registries[].name, never a host)', () => {
  it('a signature rule naming the registry by host compiled to a rule that covered no image of it (the fail-open)', () => {
    const p = compilePolicy(policy('signatures', 'registry.example.test'), '<t>');
    expect(p.signatures[0]!.matches('prod', 'team/app'), 'the gate asks by name').to.equal(false);
    expect(p.signatures[0]!.matches('registry.example.test', 'team/app'), 'pushgate scan asks by host').to.equal(true);
  });

  it('refuses every host spelling, glob over hosts and other-case name, in mappings, signatures and exceptions', () => {
    for (const [pattern, name] of HOST_SPELLINGS) {
      for (const list of ['mappings', 'signatures', 'exceptions'] as const) {
        const found = problems(policy(list, pattern));
        expect(found, `${list} ${pattern}`).to.have.length(1);
        expect(found[0]).to.match(new RegExp(`spec\\.${list}\\[0\\]\\.registry: .*registries\\[\\]\\.name.*write registry: ${name}$`));
      }
    }
  });

  it('accepts names, globs over names, and globs naming no configured registry; pushgate scan (no target) reads hosts', () => {
    for (const pattern of ['prod', 'lab', '*', 'pro*', '{prod,lab}', 'staging', 'other.example.org:5000']) {
      for (const list of ['mappings', 'signatures', 'exceptions'] as const) expect(problems(policy(list, pattern)), `${list} ${pattern}`).to.deep.equal([]);
    }
    expect(problems(policy('signatures', 'registry.example.test'), {})).to.deep.equal([]);
  });

  it('a policy file the gate reloads is refused with the file position', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-regglob-'));
    try {
      const file = path.join(dir, 'policy.yaml');
      fs.writeFileSync(file, policy('signatures', '127.0.0.1:5000'));
      expect(() => loadPolicy(file, { registries: REGISTRIES })).to.throw(ConfigError, /policy\.yaml:\d+:\d+: spec\.signatures\[0\]\.registry/);
      expect(() => loadPolicy(file)).to.not.throw();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('any case of any host spelling of a guarded registry is refused; any case of another host is not (property)', () => {
    const spelling = fc.constantFrom(...HOST_SPELLINGS.filter(([p]) => !/[*{]/.test(p) && p !== 'PROD'));
    fc.assert(fc.property(spelling, fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }), fc.constantFrom('mappings', 'signatures', 'exceptions'), ([host, name], upper, list) => {
      expect(registriesNamedOtherwise(recase(host, upper), REGISTRIES), host).to.deep.equal([name]);
      expect(problems(policy(list as 'mappings', recase(host, upper)))).to.have.length(1);
      expect(registriesNamedOtherwise(recase(host.replace('example', 'elsewhere').replace(/5000/, '5001').replace('localhost', 'otherhost'), upper), REGISTRIES)).to.deep.equal([]);
    }), { numRuns: 200 });
  });
});

describe('policy registry globs: a brace list mixing a name and a host', () => {
  it('{lab,registry.example.test} matched the name lab, so its host alternative (prod) was accepted and applied nowhere', () => {
    for (const list of ['mappings', 'signatures', 'exceptions'] as const) {
      const found = problems(policy(list, '{lab,registry.example.test}'));
      expect(found, list).to.have.length(1);
      expect(found[0]).to.match(/names the configured registry "prod".*write registry: prod$/);
    }
    expect(registriesNamedOtherwise('{staging,{prod,127.0.0.1:5000}}', REGISTRIES), 'nested').to.deep.equal(['lab']);
    expect(registriesNamedOtherwise('{prod,lab}', REGISTRIES)).to.deep.equal([]);
    expect(registriesNamedOtherwise('\\{lab,registry.example.test\\}', REGISTRIES), 'escaped braces are no list').to.deep.equal([]);
  });

  it('any name beside any host spelling of another registry, in any order and nesting, is refused (property)', () => {
    const spelling = fc.constantFrom(...HOST_SPELLINGS.filter(([, n]) => n === 'prod').map(([p]) => p).filter((p) => !p.includes('{')));
    fc.assert(fc.property(spelling, fc.boolean(), fc.boolean(), (host, first, nested) => {
      const items = first ? [host, 'lab'] : ['lab', host];
      const pattern = nested ? `{staging,{${items.join(',')}}}` : `{${items.join(',')}}`;
      expect(registriesNamedOtherwise(pattern, REGISTRIES), pattern).to.include('prod');
    }), { numRuns: 100 });
  });

  it('any alternation syntax (parentheses, extglobs, a wildcard reaching a name and another host) is judged per registry (property)', () => {
    // picomatch reads `(a|b)`, `@(a|b)`, `+(a|b)` and `?(a|b)` as alternations too; a wildcard can reach one
    // registry by name and another by host. Whatever the syntax, a registry the glob reaches by a host
    // spelling but whose name it does not match is reported.
    const spelling = fc.constantFrom(...HOST_SPELLINGS.filter(([, n]) => n === 'prod').map(([p]) => p).filter((p) => !/[{}()|]/.test(p)));
    const form = fc.constantFrom('(%)', '@(%)', '+(%)', '{%}');
    fc.assert(fc.property(spelling, form, fc.boolean(), (host, f, first) => {
      const items = first ? [host, 'lab'] : ['lab', host];
      const pattern = f.replace('%', items.join(f === '{%}' ? ',' : '|'));
      for (const list of ['mappings', 'signatures', 'exceptions'] as const) {
        const found = problems(policy(list, pattern));
        expect(found, `${list} ${pattern}`).to.have.length(1);
        expect(found[0], pattern).to.match(f === '{%}' ? /names the configured registry "prod"/ : /"\(", "\)" and "\|" are not taken: write the alternatives as a brace list/);
      }
    }), { numRuns: 150 });
    const sameLetter = [{ name: 'lab', url: 'http://127.0.0.1:5000' }, { name: 'prod', url: 'https://lab.example.test' }];
    expect(registriesNamedOtherwise('l*', sameLetter), 'a wildcard over the name lab and the host of prod').to.deep.equal(['prod']);
    expect(problems(policy('mappings', '@(lab|prod)')), 'names only, yet an alternation').to.have.length(1);
    expect(problems(policy('mappings', '{lab,prod}')), 'the same as a brace list').to.deep.equal([]);
    expect(registriesNamedOtherwise('*', REGISTRIES), 'every name').to.deep.equal([]);
  });

  it('a hostile brace glob costs little: expansion is bounded in count and length', () => {
    const t = process.hrtime.bigint();
    expect(registriesNamedOtherwise('{a,b}'.repeat(200), REGISTRIES)).to.deep.equal([]);
    expect(registriesNamedOtherwise(`{${'a,'.repeat(5000)}}`, REGISTRIES)).to.deep.equal([]);
    expect(Number(process.hrtime.bigint() - t) / 1e6).to.be.below(5000);
  });
});

describe('policy reload in the gate: a registry glob naming a guarded registry by host', () => {
  it('is rejected and the rule in force stays (PolicyControl, real SQLite store)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-regglob-'));
    const file = path.join(dir, 'policy.yaml');
    fs.writeFileSync(file, policy('signatures', 'lab'));
    const first = loadPolicy(file);
    const g = { policy: first, setPolicy: (p: CompiledPolicy) => void (g.policy = p), get currentPolicy() { return g.policy; }, currentVulnDb: () => undefined };
    const store = await openStore(`sqlite:${path.join(dir, 'p.db')}`);
    const config = { ...defaultConfig(), policy: file, registries: REGISTRIES.map((r) => ({ ...r, type: 'distribution', insecure: false, webhook: {} })) } as unknown as ReturnType<typeof defaultConfig>;
    const control = new PolicyControl({ gate: g as unknown as Gate, store, config, logger: silentLogger, policy: first });
    try {
      await control.init();
      fs.writeFileSync(file, policy('signatures', '127.0.0.1:5000'));
      const r = await control.reload();
      expect(r.ok).to.equal(false);
      expect(r.problems.join('\n')).to.match(/spec\.signatures\[0\]\.registry: "127\.0\.0\.1:5000" names the configured registry "lab"/);
      expect(g.policy.signatures[0]!.matches('lab', 'team/app'), 'the rule in force still covers lab').to.equal(true);
    } finally {
      await control.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('policy registry globs: every spelling a registry is reached by (loopback names, IDN, an alias without its port, negation)', () => {
  const REACH = [
    { name: 'prod', url: 'https://registry.exämple.test', aliases: ['mirror.example.test:8443'] },
    { name: 'lab', url: 'http://localhost:5000' },
    { name: 'lab2', url: 'http://127.0.0.1:5001' },
    { name: 'ci', url: 'http://[::1]:5002' },
  ];

  it('refuses loopback globs over another loopback name, an alias host without its port, and Unicode/punycode spellings', () => {
    const cases: Array<[string, string]> = [
      ['localhost*', 'lab2'],
      ['local*:5001', 'lab2'],
      ['localhos[t]:5001', 'lab2'],
      ['localhos[t]:5000', 'lab'],
      ['127.0.0.?:5000', 'lab'],
      ['localhost:5002', 'ci'],
      ['mirror.example.test', 'prod'],
      ['mirror.example.test.', 'prod'],
      ['registry.exämple.test', 'prod'],
      ['REGISTRY.EXÄMPLE.TEST', 'prod'],
      ['registry.xn--exmple-cua.test:443', 'prod'],
      ['*.exämple.test', 'prod'],
      ['registry.ｅxämple.test', 'prod'],
      ['!127.0.0.1:5001', 'lab2'],
      ['!!localhost:5000', 'lab'],
    ];
    for (const [pattern, name] of cases) {
      expect(registriesNamedOtherwise(pattern, REACH), pattern).to.include(name);
      const found = problems(policy('signatures', pattern), { registries: REACH as typeof REGISTRIES });
      expect(found, pattern).to.have.length(1);
    }
  });

  it('a negation of a name (or a glob over names) is not refused: it excludes that registry by name, as the gate reads it', () => {
    for (const pattern of ['!lab', '!prod', '!lab*', '!{lab,prod}', '!!lab', '!ci']) {
      expect(registriesNamedOtherwise(pattern, REACH), pattern).to.deep.equal([]);
      expect(problems(policy('mappings', pattern), { registries: REACH as typeof REGISTRIES }), pattern).to.deep.equal([]);
    }
  });

  /** A glob over `s`: as written, one character as `?` or `[c]`, a head or tail as `*`. */
  const globbed = (s: string, how: number, at: number): string => {
    // An IPv6 literal's brackets are a character class to a glob: written escaped, with a wildcard outside them.
    if (s.startsWith('[')) {
      const close = s.indexOf(']');
      const escaped = `\\[${s.slice(1, close)}\\]`;
      return how === 3 ? `${escaped}*` : how === 4 ? `*${s.slice(close)}` : how === 2 ? `${escaped}${s.slice(close + 1)}` : s;
    }
    const i = at % s.length;
    switch (how) {
      case 1: return `${s.slice(0, i)}?${s.slice(i + 1)}`;
      case 2: return /[a-z0-9]/.test(s[i]!) ? `${s.slice(0, i)}[${s[i]}]${s.slice(i + 1)}` : s;
      case 3: return `${s.slice(0, Math.max(1, i))}*`;
      case 4: return `*${s.slice(Math.min(s.length - 1, i + 1))}`;
      default: return s;
    }
  };

  it('every generated spelling of every registry (host form, loopback name, IDN form, port or none, case, glob) is refused unless it matches the name (property)', () => {
    const spelling = fc.record({
      r: fc.constantFrom(...REACH),
      host: fc.nat(),
      loopback: fc.constantFrom('localhost', '127.0.0.1', '[::1]', '127.0.0.9', 'LocalHost', '[0:0::1]', '127.1'),
      idn: fc.constantFrom('unicode', 'ascii', 'fullwidth'),
      port: fc.constantFrom('none', 'own', 'default'),
      dot: fc.boolean(),
      upper: fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
      how: fc.integer({ min: 0, max: 4 }),
      at: fc.nat(),
      negate: fc.boolean(),
    });
    fc.assert(fc.property(spelling, (g) => {
      const u = new URL(g.r.url);
      const hostPorts = [u.host, ...(g.r.aliases ?? [])];
      const chosen = hostPorts[g.host % hostPorts.length]!;
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(chosen)!;
      let host = m[1]!;
      const own = m[2] ?? (u.protocol === 'https:' ? '443' : '80');
      // Any loopback spelling as a literal; a glob over the loopback names the registry is reached by (a glob
      // over another 127/8 address that matches none of them is not judged: see registrySpellings).
      if (['localhost', '127.0.0.1', '[::1]'].includes(host)) host = g.how === 0 || ['localhost', '127.0.0.1', '[::1]', 'LocalHost'].includes(g.loopback) ? g.loopback : 'localhost';
      else if (g.idn === 'unicode') host = domainToUnicode(host);
      else if (g.idn === 'fullwidth') host = domainToUnicode(host).replace(/e/, '\uff45');
      if (g.dot && !host.startsWith('[')) host += '.';
      const port = g.port === 'none' ? '' : g.port === 'own' ? `:${own}` : u.protocol === 'https:' ? ':443' : ':80';
      if (g.port === 'default' && port !== `:${own}`) return; // the default port reaches another port's registry: not a spelling of it
      const literal = recase(`${host}${port}`, g.upper);
      const pattern = `${g.negate ? '!' : ''}${globbed(literal, g.how, g.at)}`;
      const inner = pattern.replace(/^!/, '');
      const named = registriesNamedOtherwise(pattern, REACH);
      if (!glob(inner)(g.r.name)) expect(named, `${pattern} (${g.r.name})`).to.include(g.r.name);
      // The name itself, negated or not, in any glob over it, is never refused.
      expect(registriesNamedOtherwise(`${g.negate ? '!' : ''}${globbed(g.r.name, g.how, g.at)}`, REACH)).to.not.include(g.r.name);
    }), { numRuns: 3000 });
  });
});

describe('policy: a glob long enough to make its compile slow is refused before it is compiled', function () {
  this.timeout(60_000);
  // picomatch's compile is quadratic in nesting: `{`×n … `}`×n of 40,000 characters took 25 s, 65,000 took 76 s.
  const shapes: Array<[string, (n: number) => string]> = [
    ['nested braces', (n) => '{'.repeat(n) + 'a,b' + '}'.repeat(n)],
    ['open brace lists', (n) => '{a,b'.repeat(n)],
    ['extglobs', (n) => '@('.repeat(n) + 'a' + ')'.repeat(n)],
    ['classes', (n) => '[a-z]'.repeat(n)],
    ['stars', (n) => 'a*'.repeat(n)],
  ];

  it('property: any glob of registry, repository or tag past the bound, in any list, is one clear problem within a second; at the bound it compiles', () => {
    fc.assert(
      fc.property(fc.constantFrom(...shapes), fc.integer({ min: 1100, max: 65_000 }), fc.constantFrom('mappings', 'signatures', 'exceptions') as fc.Arbitrary<'mappings' | 'signatures' | 'exceptions'>, fc.constantFrom('registry', 'repository'), ([label, make], len, list, field) => {
        let pattern = make(Math.ceil(len / 2));
        if (pattern.length <= 1024) pattern = pattern + 'x'.repeat(1025 - pattern.length);
        let text = policy(list, field === 'registry' ? pattern : 'prod');
        if (field === 'repository') text = text.replace('repository: "**"', `repository: ${JSON.stringify(pattern)}`).replace(/ids: \[CVE-2024-0001\]/, `repository: ${JSON.stringify(pattern)}, ids: [CVE-2024-0001]`);
        const t0 = Date.now();
        const got = problems(text);
        expect(Date.now() - t0, `${label} ${pattern.length}`).to.be.lessThan(1000);
        expect(got.join('\n'), `${label} ${pattern.length}`).to.match(/1 to 1024 characters/);
      }),
      { numRuns: 40 },
    );
    // at the bound, the costliest shape compiles quickly and is judged as before
    const edge = '{'.repeat(509) + 'lab,x' + '}'.repeat(509);
    expect(edge.length).to.be.at.most(1024);
    const t0 = Date.now();
    expect(problems(policy('mappings', edge)).join('\n')).to.not.match(/1 to 1024 characters/);
    expect(Date.now() - t0).to.be.lessThan(2000);
  });
});
