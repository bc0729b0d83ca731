/**
 * `pushgate config check [FILE]`: every problem on its own stdout line as FILE:LINE:COL: KEY: message,
 * `FILE: ok` for valid files, exit 0 / 1. Runs the real CLI entry (src/cli/main.ts through tsx).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkConfigFiles } from '../../../src/cli/commands/config.js';
import { ROOT } from '../../helpers/lab.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT): { code: number | null; stdout: string; stderr: string } {
  // tsx by absolute URL: `--import tsx` resolves from the working directory, which may be a temp dir.
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href, path.join(ROOT, 'src/cli/main.ts'), 'config', 'check', ...args], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const LINE = /^[^:\s]+:\d+:\d+: [^:]+: .+$/;

describe('config check (CLI)', function () {
  this.timeout(120_000);

  it('the shipped config and policy are valid: exit 0, one "FILE: ok" line each, nothing on stderr', () => {
    const r = cli([]);
    expect(r.stdout).to.equal('config/pushgate.yaml: ok\nconfig/policy.yaml: ok\n');
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
  });

  it('a bad config: exit 1, every problem on its own line as FILE:LINE:COL: KEY: message', () => {
    const r = cli(['test/fixtures/config/bad-many.yaml']);
    expect(r.code).to.equal(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).to.have.length(10);
    for (const l of lines) expect(l).to.match(LINE).and.satisfy((s: string) => s.startsWith('test/fixtures/config/bad-many.yaml:'));
    expect(lines[5]).to.equal('test/fixtures/config/bad-many.yaml:12:14: registries[0].webhook.token: environment variable UNSET_TOKEN is not set (set it, or write ${UNSET_TOKEN:-default})');
  });

  it('a policy document given directly (kind: Policy) is checked as a policy', () => {
    const ok = cli(['test/fixtures/policy/full.yaml']);
    expect([ok.code, ok.stdout]).to.deep.equal([0, 'test/fixtures/policy/full.yaml: ok\n']);
    const bad = cli(['test/fixtures/policy/bad.yaml']);
    expect(bad.code).to.equal(1);
    // 9 schema problems, then 3 the compiler finds in the parts that passed the schema.
    expect(bad.stdout.trimEnd().split('\n')).to.have.length(12);
  });

  it('an alias without an anchor, in a config or a policy: a located problem line and exit 1, not a crash', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-check-'));
    try {
      const policy = path.join(tmp, 'policy.yaml');
      fs.writeFileSync(policy, 'apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata:\n  name: *name\nspec:\n  ruleSets: {}\n');
      const p = cli([policy]);
      expect([p.code, p.stdout, p.stderr]).to.deep.equal([1, `${policy}:4:9: metadata.name: YAML alias *name names no anchor: define &name before this alias, or write the value out (quoted, if it is no alias)\n`, '']);
      const config = path.join(tmp, 'pushgate.yaml');
      fs.writeFileSync(config, 'log:\n  level: *lvl\n');
      const c = cli([config]);
      expect([c.code, c.stdout, c.stderr]).to.deep.equal([1, `${config}:2:10: log.level: YAML alias *lvl names no anchor: define &lvl before this alias, or write the value out (quoted, if it is no alias)\n`, '']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a valid config naming an invalid policy: the config is ok, the policy problems are listed, exit 1', () => {
    const r = cli(['test/fixtures/config/bad-policy-ref.yaml']);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal(
      'test/fixtures/config/bad-policy-ref.yaml: ok\n' +
        'test/fixtures/config/sub/bad-policy.yaml:10:19: spec.ruleSets.default.rules[0].action: must be one of: reject, quarantine, warn (got string "nuke")\n',
    );
  });

  it('PUSHGATE_CONFIG names the default file; a missing file is a problem line and exit 1', () => {
    const r = cli([], { PUSHGATE_CONFIG: 'test/fixtures/config/full.yaml', PORT: '1', HOOK_TOKEN: 'h'.repeat(16), REG_PASSWORD: 'p', VIEWER_TOKEN: 'v'.repeat(16), JWT_SECRET: 's'.repeat(32) });
    expect([r.code, r.stdout]).to.deep.equal([0, 'test/fixtures/config/full.yaml: ok\ntest/fixtures/config/sub/policy.yaml: ok\n']);
    const missing = cli(['nope.yaml']);
    expect([missing.code, missing.stdout]).to.deep.equal([1, 'nope.yaml: (file): cannot read: file not found\n']);
  });

  it('missing files named by absolute paths: no "paths are relative" hint; a relative one gets it on its own line', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-check-'));
    try {
      const file = path.join(tmp, 'abs.yaml');
      fs.writeFileSync(file, `policy: ${path.join(tmp, 'absent/policy.yaml')}\nregistries:\n  - name: r\n    url: http://h:1\n    ca: ${path.join(tmp, 'absent/ca.pem')}\n`);
      const abs = cli([file]);
      expect(abs.code).to.equal(1);
      expect(abs.stdout.trimEnd().split('\n')).to.have.length(2).and.satisfy((ls: string[]) => ls.every((l) => / does not exist$/.test(l)));
      fs.writeFileSync(file, `policy: ${path.join(tmp, 'absent/policy.yaml')}\nregistries:\n  - name: r\n    url: http://h:1\n    ca: absent/ca.pem\n`);
      const rel = cli([file]).stdout.trimEnd().split('\n');
      expect(rel[0]).to.match(/: policy: policy file .* does not exist$/);
      expect(rel[1]).to.match(/: registries\[0\]\.ca: CA bundle .* does not exist \(paths are relative to .*abs\.yaml\)$/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('no file named and none in the working directory: the built-in defaults are what runs, ok, exit 0', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-check-'));
    try {
      const r = cli([], {}, tmp);
      expect([r.code, r.stderr]).to.deep.equal([0, '']);
      expect(r.stdout).to.match(/^<built-in>: ok \(no configuration file: config\/pushgate\.yaml is not in .*pushgate-check-.* and PUSHGATE_CONFIG is unset/);
      // A config/pushgate.yaml in the working directory is checked as before.
      fs.mkdirSync(path.join(tmp, 'config'));
      fs.writeFileSync(path.join(tmp, 'config/pushgate.yaml'), 'server:\n  bogus: 1\n');
      const bad = cli([], {}, tmp);
      expect([bad.code, bad.stdout]).to.deep.equal([1, 'config/pushgate.yaml:2:3: server.bogus: unknown key (allowed here: listen, bodyLimit, readTimeout, publicUrl)\n']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('--config FILE is FILE, as on every other command; two different files are refused', () => {
    const r = cli(['--config', 'test/fixtures/config/bad-policy-ref.yaml']);
    expect([r.code, r.stdout.split('\n')[0]]).to.deep.equal([1, 'test/fixtures/config/bad-policy-ref.yaml: ok']);
    const two = cli(['a.yaml', '--config', 'b.yaml']);
    expect([two.code, two.stdout]).to.deep.equal([2, '']);
    expect(two.stderr).to.include('two files (a.yaml and --config b.yaml)');
  });

  it('a break-glass list naming the Pod-creating controllers: ok, then a warning line naming the key, exit 0', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-check-'));
    try {
      fs.writeFileSync(path.join(tmp, 'pushgate.yaml'), 'admission:\n  breakGlass:\n    groups: [sre, "system:serviceaccounts:kube-system"]\n');
      const r = cli([path.join(tmp, 'pushgate.yaml')]);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/pushgate\.yaml: ok$/);
      expect(lines.slice(1)).to.have.length(1);
      expect(lines[1]).to.match(/pushgate\.yaml: warning: admission\.breakGlass\.groups: "system:serviceaccounts:kube-system" .*controllers/);
      expect(r.code).to.equal(0);
      fs.writeFileSync(path.join(tmp, 'pushgate.yaml'), 'admission:\n  breakGlass:\n    groups: [sre]\n');
      expect(cli([path.join(tmp, 'pushgate.yaml')]).stdout).to.not.include('warning');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('checkConfigFiles also checks the policy of a config that has problems of its own', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-check-'));
    try {
      fs.writeFileSync(path.join(tmp, 'pushgate.yaml'), 'policy: policy.yaml\nserver:\n  bogus: 1\n');
      fs.writeFileSync(path.join(tmp, 'policy.yaml'), 'apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata: {name: x}\nspec:\n  ruleSets: {}\n');
      const out = checkConfigFiles(path.join(tmp, 'pushgate.yaml'), {});
      expect(out.map((c) => c.problems.map((p) => `${p.line}:${p.col} ${p.key}`))).to.deep.equal([['3:3 server.bogus'], ['5:13 spec.ruleSets']]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('config check: the files the configuration names for signatures and VEX', () => {
  it('reports a trusted root or a VEX document that does not parse, naming the key; valid ones are ok', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-check-trust-'));
    try {
      fs.copyFileSync(path.join(ROOT, 'test/fixtures/signatures/cosign-legacy-keyless/trusted_root.json'), path.join(dir, 'root.json'));
      fs.writeFileSync(path.join(dir, 'bad-root.json'), '{"certificateAuthorities":[{"certChain":{"certificates":[{"rawBytes":"bm90IGEgY2VydA=="}]}}]}');
      fs.mkdirSync(path.join(dir, 'vex'));
      fs.copyFileSync(path.join(ROOT, 'test/fixtures/vex/cyclonedx-vex-excerpt.json'), path.join(dir, 'vex/a.json'));
      fs.writeFileSync(path.join(dir, 'bad-vex.json'), '{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"products":[{"@id":"pkg:npm/x"}],"status":"not_affected"}]}');
      const write = (root: string, vex: string[]) => {
        fs.writeFileSync(path.join(dir, 'pushgate.yaml'), `admission:\n  signatures:\n    trustedRoot: ${root}\nvex:\n  paths: [${vex.join(', ')}]\n`);
        return checkConfigFiles(path.join(dir, 'pushgate.yaml'), {});
      };
      expect(write('root.json', ['vex']).flatMap((f) => f.problems)).to.deep.equal([]);
      const bad = write('bad-root.json', ['vex', 'bad-vex.json']).flatMap((f) => f.problems.map((p) => `${p.key}: ${p.message}`));
      expect(bad).to.have.length(2);
      expect(bad[0]).to.match(/^admission\.signatures\.trustedRoot: trusted root .*bad-root\.json: /);
      expect(bad[1]).to.match(/^vex\.paths: .*bad-vex\.json#statements\[0\]: not_affected needs a justification/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
