/**
 * A pusher hides a vulnerable gem from the scanner while RubyGems still activates it: a gemspec is
 * Ruby code that RubyGems evaluates, and the scanner read the first `s.name = "…"` it found. A decoy
 * assignment in a `=begin` block, a heredoc, a comment-like string, after `__END__`, or one under a
 * condition RubyGems skips, made `rack 2.0.0` a gem named `decoy` (`require "rack"` loaded rack 2.0.0).
 * Now a gemspec is read only in the shape RubyGems writes (Gem::Specification#to_ruby), else it is
 * `gemspec-ambiguous` (incomplete). The oracle is the real ruby: Gem::Specification.load and the stub
 * line RubyGems looks gems up by (Gem::StubSpecification).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { readGemspec, rubyAnalyzer } from '../../../src/scan/analyzers/ruby.js';

/** The spec RubyGems writes for `rack 2.0.0` (the real to_ruby of the installed ruby), split in lines. */
function toRuby(): string[] {
  const r = spawnSync('ruby', ['-e', `s = Gem::Specification.new do |s|
  s.name = "rack"; s.version = "2.0.0"; s.summary = "x"; s.authors = ["A"]; s.files = ["lib/rack.rb"]
  s.add_runtime_dependency "json", ">= 1.0"
  s.metadata = { "source_code_uri" => "https://example.com/rack" }
end
print s.to_ruby`], { encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout.split('\n');
}

/** Lines a pusher adds, each somewhere Ruby evaluates differently from a pattern. */
const DECOY = fc.constantFrom<string[]>(
  ['=begin', '  s.name = "decoy".freeze', '  s.version = "9.9.9"', '=end'],
  ['  s.description = <<~EOS', '  s.name = "decoy"', '  EOS'],
  ['  s.name = "decoy" if s.respond_to? :bogus='],
  ['  if s.respond_to? :bogus then', '    s.name = "decoy"', '    s.version = "9.9.9"', '  end'],
  ['  s.summary = "x\\n  s.name = \\"decoy\\""'],
  ['  s.summary = %q{', '  s.name = "decoy"', '}'],
  ['  s.name = "de" "coy"'],
  ['  s.name = "#{"decoy"}"'],
  ['  s.instance_variable_set(:@name, "decoy")'],
  ['  s.send(:name=, "decoy")'],
  ['  s.name = "decoy"; s.version = "9.9.9"'],
  ['  # s.name = "decoy"'],
  ['  s.name = "rack"'],
);

describe('ruby gemspec: what RubyGems evaluates is what is judged', () => {
  it('the real to_ruby output (the installed ruby) and the Debian fixture are read whole', () => {
    const read = readGemspec(toRuby().join('\n'), '/g/specifications/rack-2.0.0.gemspec');
    expect(read.problem).to.equal(undefined);
    expect(read.package).to.include({ name: 'rack', version: '2.0.0' });
    const deb = fs.readFileSync(path.join(__dirname, '../../fixtures/scan/lang/rack-2.2.22.gemspec'), 'utf8');
    expect(readGemspec(deb, '/x/specifications/rack-2.2.22.gemspec').package).to.include({ name: 'rack', version: '2.2.22' });
  });

  it('a gemspec with decoys is rack 2.0.0 to RubyGems only where the scanner says so, else incomplete (real ruby, generated)', function () {
    this.timeout(120_000);
    const base = toRuby();
    const body = base.findIndex((l) => l.startsWith('Gem::Specification.new'));
    const cases = fc.sample(fc.record({ decoy: DECOY, at: fc.integer({ min: body + 1, max: base.length - 3 }), stub: fc.constantFrom('keep', 'decoy', 'drop') }), 120);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-gem-'));
    try {
      const files = cases.map((c, i) => {
        const lines = [...base];
        lines.splice(c.at, 0, ...c.decoy);
        if (c.stub === 'decoy') lines[1] = '# stub: decoy 9.9.9 ruby lib';
        if (c.stub === 'drop') lines[1] = '';
        const f = path.join(dir, `g${i}.gemspec`);
        fs.writeFileSync(f, lines.join('\n'));
        return f;
      });
      const r = spawnSync('ruby', ['-e', `require "json"
ARGV.each do |f|
  s = (Gem::Specification.load(f) rescue nil) rescue nil
  st = Gem::StubSpecification.gemspec_stub(f, "${dir}", "${dir}") rescue nil
  puts JSON.generate([s && s.name, s && s.version.to_s, (st.name rescue nil), (st.version.to_s rescue nil)])
end`, ...files], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Array<string | null>);
      const bad: string[] = [];
      let judged = 0;
      cases.forEach((c, i) => {
        const [name, version, stubName, stubVersion] = got[i]!;
        const out = rubyAnalyzer.analyze?.({ path: `/g/specifications/x.gemspec`, size: 1, mode: 0o644, content: fs.readFileSync(files[i]!) }, { tmpDir: dir } as never) as { packages?: Array<{ name: string; version: string }>; diagnostics?: Array<{ incomplete?: boolean }> };
        const incomplete = (out.diagnostics ?? []).some((d) => d.incomplete);
        if (incomplete) return;
        judged++;
        const have = (out.packages ?? []).map((p) => `${p.name} ${p.version}`);
        // Complete: the one gem read must be the gem RubyGems evaluates and looks up by its stub.
        const want = name && version ? [`${name} ${version}`] : [];
        if (stubName && `${stubName} ${stubVersion}` !== want[0]) want.push(`${stubName} ${stubVersion}`);
        if (JSON.stringify(have) !== JSON.stringify(want)) bad.push(`${JSON.stringify(c)}: ruby ${JSON.stringify(want)}, scanner ${JSON.stringify(have)} (complete)`);
      });
      expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
      // The undecorated decoys (a comment, the same name again) still leave files the scanner reads.
      expect(judged).to.be.greaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ruby gemspec: a crafted file costs little', () => {
  it('names at most 8 × 8 candidates however many names and versions it spells (fast-check)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 }), (nn, nv) => {
      const text = 'Gem::Specification.new do |s|\n'
        + Array.from({ length: nn }, (_, i) => `  s.name = "n${i}"\n`).join('')
        + Array.from({ length: nv }, (_, i) => `  s.version = "${i}.0"\n`).join('') + 'end\n';
      const r = readGemspec(text, '/g/specifications/x.gemspec');
      expect(r.candidates.length).to.be.at.most(64);
      if (nn > 1 || nv > 1) expect(r.problem).to.be.a('string');
    }), { numRuns: 30 });
  });

  it('reads a MiB of word characters, dots or quotes in linear time (each well under a second)', () => {
    // A MiB of newlines (1 KB gzipped): the first-match pattern's ^\s* retried every remaining newline from
    // every line start, 64 KiB took 4 s and a MiB some 17 minutes on the scan thread.
    for (const t of ['\n'.repeat(1 << 20), ' \n'.repeat(1 << 19), 'Gem::Specification.new do |s|\n' + '\n'.repeat(1 << 20), 'a'.repeat(1 << 20), 'a.'.repeat(1 << 19), 'Gem::Specification.new do |s|\n' + ' s.name = "'.repeat(1 << 16), 'x.name = "'.repeat(1 << 16)]) {
      const t0 = performance.now();
      readGemspec(t, '/g/specifications/x.gemspec');
      expect(performance.now() - t0).to.be.below(3_000);
    }
  });
});
