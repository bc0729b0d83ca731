/**
 * The gemspec reader's double-quoted strings against the real ruby. A pusher spells rack 2.0.0 with
 * escapes the reader decoded otherwise than Ruby (`"\062.0.0"` is 2.0.0 to Ruby, was NUL then `62.0.0`;
 * a backslash before a line break joins the lines), and RubyGems' own to_ruby writes escapes the reader
 * refused (`\u{1F600}` for a character beyond the BMP, `\x01`), which made a real gem incomplete.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { readGemspec } from '../../../src/scan/analyzers/ruby.js';

/** Pieces of a double-quoted literal's body: characters of `rack`/`2.0.0` and escapes Ruby reads. */
const PIECE = fc.constantFrom(
  'r', 'a', 'c', 'k', '2', '.', '0', '-', ' ', '\\n', '\\s', '\\0', '\\062', '\\0622', '\\162', '\\56', '\\x72', '\\x2', '\\x2e0',
  '\\u0072', '\\u{72}', '\\u{1F600}', '\\\n', '\\\r\n', '\n', '\r\n', '\\\\', '\\"', '\\#', '\\q', '\\e', '\\377', '\\xff', '\\uD800', '\\M-a', '\\ca',
);
const BODY = fc.array(PIECE, { minLength: 1, maxLength: 6 }).map((a) => a.join(''));

/** Name and version of each file as `Gem::Specification.load` reads it (null when it does not load). */
function rubyLoad(files: string[]): Array<[string | null, string | null]> {
  const r = spawnSync('ruby', ['-W0', '-e', `require "json"
ARGV.each do |f|
  s = begin; Gem::Specification.load(f); rescue Exception; nil; end
  puts JSON.generate([s && s.name.to_s.scrub, (s && s.version.to_s rescue nil)])
end`, ...files], { encoding: 'utf8', maxBuffer: 1 << 26 });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as [string | null, string | null]);
}

describe('ruby gemspec: double-quoted strings read as Ruby reads them', () => {
  it('a gemspec read complete names the gem the real ruby loads (generated escapes, no stub line)', function () {
    this.timeout(120_000);
    const cases = fc.sample(fc.record({ name: BODY, version: BODY }), 300);
    // The two spellings of the question, always among them.
    cases.push({ name: 'ra\\\nck', version: '\\062.0.0' }, { name: 'rack', version: '2.\\0600.0' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-gem-esc-'));
    try {
      const files = cases.map((c, i) => {
        const f = path.join(dir, `g${i}.gemspec`);
        fs.writeFileSync(f, `Gem::Specification.new do |s|\n  s.name = "${c.name}"\n  s.version = "${c.version}"\n  s.summary = "x"\nend\n`);
        return f;
      });
      const ruby = rubyLoad(files);
      const bad: string[] = [];
      cases.forEach((c, i) => {
        const r = readGemspec(fs.readFileSync(files[i]!, 'utf8'), files[i]!);
        const [name, version] = ruby[i]!;
        if (!r.package || name === null) return;
        // Ruby's version is Gem::Version#to_s (trimmed, blank is 0, '-' is '.pre.'), as the comparator reads it.
        const v = r.package.version.replace(/^[ \t\r\n\f\v]+|[ \t\r\n\f\v]+$/g, '');
        if (r.package.name !== name || (v === '' ? '0' : v.replace(/-/g, '.pre.')) !== version) bad.push(`${JSON.stringify(c)}: ruby ${JSON.stringify([name, version])}, scanner ${JSON.stringify([r.package.name, r.package.version])} (complete)`);
      });
      expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the real to_ruby of gems whose texts hold any characters is read complete (generated)', function () {
    this.timeout(120_000);
    const text = fc.string({ unit: 'grapheme', maxLength: 12 });
    const cases = fc.sample(fc.record({ summary: text, author: text, description: fc.string({ unit: 'binary', maxLength: 12 }), meta: text }), 150);
    cases.push({ summary: 'ok \u{1F600}', author: 'Zo\u00eb', description: '\x01\x7f', meta: '\u{1F680}' });
    const r = spawnSync('ruby', ['-e', `require "json"
$stdin.each_line do |l|
  c = JSON.parse(l)
  s = Gem::Specification.new do |s|
    s.name = "rack"; s.version = "2.0.0"; s.summary = c["summary"]; s.authors = [c["author"]]
    s.description = c["description"]; s.metadata = { "x" => c["meta"] }; s.files = ["lib/rack.rb"]
  end
  puts JSON.generate(s.to_ruby)
end`], { encoding: 'utf8', input: cases.map((c) => JSON.stringify(c)).join('\n') + '\n', maxBuffer: 1 << 26 });
    expect(r.status, r.stderr).to.equal(0);
    const specs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as string);
    expect(specs).to.have.length(cases.length);
    const bad = specs.flatMap((s, i) => {
      const read = readGemspec(s, '/g/specifications/rack-2.0.0.gemspec');
      return read.package?.name === 'rack' && read.package.version === '2.0.0' ? [] : [`${JSON.stringify(cases[i])}: ${read.problem}`];
    });
    expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
  });
});

/** Places Ruby evaluates an assignment in that are not a statement of their own (`W` is the assignment). */
const INSIDE = fc.constantFrom(
  ['  s.summary = "x" if W'],
  ['  if W then', '  end'],
  ['  if s.respond_to? :specification_version then', '  else', '  end', '  if W then', '    s.summary = "y"', '  end'],
  ['  s.summary = W'],
  ['  s.description = s.summary = W'],
  ['  s.files = [W]'],
  ['  s.metadata = { "a" => W }'],
  ['  s.add_runtime_dependency(%q<json>.freeze, [W])'],
  ['  current_version = W'],
  ['  s.summary = true ||', '  W'],
  ['  s.summary = "x".freeze if s.respond_to? :summary= if W'],
);

describe('ruby gemspec: an assignment inside another statement', () => {
  it('is read as the real ruby evaluates it or the file is incomplete (generated placements, no stub line)', function () {
    this.timeout(120_000);
    const cases = fc.sample(fc.record({
      decoyName: fc.boolean(), decoyVersion: fc.boolean(),
      name: fc.option(INSIDE, { nil: undefined }), version: fc.option(INSIDE, { nil: undefined }),
    }), 200);
    cases.push({ decoyName: true, decoyVersion: true, name: ['  s.summary = "x" if W'], version: ['  if W then', '  end'] });
    // The control below, always present (a sample of 200 holds one only about three times in four).
    cases.push({ decoyName: true, decoyVersion: true, name: undefined, version: undefined });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-gem-in-'));
    try {
      const files = cases.map((c, i) => {
        const lines = ['Gem::Specification.new do |s|'];
        if (c.decoyName) lines.push('  s.name = "decoy"');
        if (c.decoyVersion) lines.push('  s.version = "9.9.9"');
        lines.push('  s.require_paths = ["lib".freeze]', '  s.summary = "x"');
        if (c.name) lines.push(...c.name.map((l) => l.replace('W', 's.name = "rack"')));
        if (c.version) lines.push(...c.version.map((l) => l.replace('W', 's.version = "2.0.0"')));
        lines.push('end', '');
        const f = path.join(dir, `g${i}.gemspec`);
        fs.writeFileSync(f, lines.join('\n'));
        return f;
      });
      const ruby = rubyLoad(files);
      const bad: string[] = [];
      let complete = 0;
      cases.forEach((c, i) => {
        const r = readGemspec(fs.readFileSync(files[i]!, 'utf8'), files[i]!);
        if (!r.package) return;
        complete++;
        const [name, version] = ruby[i]!;
        if (r.package.name !== name || r.package.version !== version) bad.push(`${JSON.stringify(c)}: ruby ${JSON.stringify([name, version])}, scanner ${JSON.stringify([r.package.name, r.package.version])} (complete)`);
      });
      expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
      // The files with the two plain assignments and no other are still read (control).
      expect(complete).to.be.greaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ruby gemspec: the stub line as RubyGems splits it', () => {
  it('a gemspec read complete names the gem of its stub line as the real ruby reads it (generated white space)', function () {
    this.timeout(120_000);
    const ws = fc.array(fc.constantFrom(' ', '\t', '\v', '\f', '\r'), { minLength: 1, maxLength: 3 }).map((a) => a.join(''));
    const cases = fc.sample(fc.record({ lead: fc.constantFrom('', ' ', '  ', '\t'), a: ws, b: ws }), 60);
    cases.push({ lead: ' ', a: ' ', b: ' ' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-gem-stub-'));
    try {
      const files = cases.map((c, i) => {
        const f = path.join(dir, `g${i}.gemspec`);
        fs.writeFileSync(f, `# -*- encoding: utf-8 -*-\n# stub: ${c.lead}rack${c.a}2.0.0${c.b}ruby lib\n\nGem::Specification.new do |s|\n  s.name = "decoy"\n  s.version = "9.9.9"\n  s.summary = "x"\nend\n`);
        return f;
      });
      const r = spawnSync('ruby', ['-e', `require "json"
ARGV.each { |f| st = Gem::StubSpecification.gemspec_stub(f, "${dir}", "${dir}"); puts JSON.generate([(st.name rescue nil), (st.version.to_s rescue nil)]) }`, ...files], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const stubs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as [string | null, string | null]);
      const bad = cases.flatMap((c, i) => {
        const read = readGemspec(fs.readFileSync(files[i]!, 'utf8'), files[i]!);
        const [name, version] = stubs[i]!;
        return read.package && name !== null && `${read.package.name} ${read.package.version}` !== `${name} ${version}` ? [`${JSON.stringify(c)}: stub ${name} ${version}, scanner ${read.package.name} ${read.package.version} (complete)`] : [];
      });
      expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
