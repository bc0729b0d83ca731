/**
 * Terminal safety of the human-readable output (src/cli/terminal-text.ts): whatever an image, a
 * registry or an advisory puts in a string, the table carries no character a terminal acts on, only
 * the renderer's own newlines; JSON keeps the exact values. Property-based over generated strings
 * (fast-check), plus the escape sequences that matter in practice.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { renderTable } from '../../../src/cli/render.js';
import { displayWidth } from '../../../src/cli/table.js';
import { hasTerminalControls, terminalSafe, terminalText } from '../../../src/cli/terminal-text.js';
import type { ScanReport } from '../../../src/core/index.js';
import { formatReport } from '../../../src/gate/report-formats.js';

// Any character a terminal may act on: C0 (tab and newline included), DEL, C1, bidi controls, U+2028/9.
// eslint-disable-next-line no-control-regex
const ACTIVE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

/** A report whose every string is `s(i)` for a distinct i (so equal inputs stay equal). */
function report(s: (i: number) => string): ScanReport {
  return {
    target: s(0),
    digest: `sha256:${'a'.repeat(64)}`,
    os: { id: s(1), versionId: s(2) },
    platforms: [s(3), s(4)],
    packages: [{ ecosystem: 'Debian', name: s(5), version: s(6), purl: s(7), path: s(8) }],
    findings: [
      { id: s(9), aliases: [s(10)], summary: s(11), ecosystem: s(12), package: s(5), installedVersion: s(6), fixedVersions: [s(13)], severity: 'high', path: s(8), platform: s(3) },
      { id: s(14), aliases: [], ecosystem: s(12), package: s(15), installedVersion: s(16), fixedVersions: [], severity: 'unknown', path: s(17) },
    ],
    secrets: [{ rule: s(18), severity: 'high', path: s(19), line: 3, redacted: s(20) }],
    config: [{ check: s(21), severity: 'low', message: s(22) }],
    diagnostics: [{ code: s(23), path: s(24), message: s(25), incomplete: true }],
    complete: false,
    verdict: { decision: 'quarantine', complete: false, reasons: [{ rule: s(26), action: 'quarantine', message: s(27) }], policy: { name: s(28), revision: s(29) } },
    scannedAt: '2026-01-01T00:00:00Z',
  } as ScanReport;
}

// Strings over the whole of Unicode, weighted towards controls and escape sequences.
const hostile = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.integer({ min: 0, max: 0x9f }).map((n) => String.fromCharCode(n)) }),
  fc.array(fc.constantFrom('\x1b[31m', '\x1b]0;title\x07', '\x1b]8;;http://x\x1b\\', '\x9b2J', '\x1bc', '\r', '\n', '\t', '\x7f', '\u202e', '\u2066', '\u2028', 'libssl3', ' ', '1.0'), { maxLength: 8 }).map((a) => a.join('')),
);

describe('cli: terminal-safe text', () => {
  it('escapes ESC, CSI, OSC, C1, DEL, CR, tab and bidi controls visibly; plain text is unchanged', () => {
    expect(terminalText('evil\x1b[31mred\x1b[0m')).to.equal('evil\\x1b[31mred\\x1b[0m');
    expect(terminalText('a\x1b]0;pwned\x07b')).to.equal('a\\x1b]0;pwned\\x07b');
    expect(terminalText('x\x9b2Jy\x7f')).to.equal('x\\u{9b}2Jy\\x7f');
    expect(terminalText('line\r\nnext\tcol')).to.equal('line\\x0d\\x0anext\\x09col');
    expect(terminalText('abc\u202edcba')).to.equal('abc\\u{202e}dcba');
    for (const s of ['libssl3', '1.5.4+dfsg2-5+deb12u1', '/usr/lib/x86_64-linux-gnu/libz.so.1', 'naïve ünïcödé 日本 🐳', 'C:\\Windows\\x']) expect(terminalText(s)).to.equal(s);
  });

  it('two names that differ only in a control character still print differently (backslash-free names)', () => {
    const name = hostile.filter((s) => !s.includes('\\'));
    fc.assert(fc.property(name, name, (a, b) => (a === b) === (terminalText(a) === terminalText(b))), { numRuns: 500 });
    expect(terminalText('libssl3\x1b[8m')).not.to.equal(terminalText('libssl3'));
  });

  it('property: the rendered table holds no terminal-active character but its own newlines, and as many lines as a tame report', () => {
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 30, maxLength: 30 }), (strings) => {
        const r = report((i) => strings[i]);
        const table = renderTable(r);
        const lines = table.split('\n');
        for (const line of lines) expect(ACTIVE.test(line), JSON.stringify(line)).to.equal(false);
        // The same report with each distinct string replaced by a distinct tame word as wide on the terminal
        // (a value wider than its column continues its row below: table.ts): same row structure.
        const names = new Map<string, string>();
        const tame = report((i) => {
          // (the empty string stays empty: a finding's platform '' groups as one without a platform; a blank
          // one stays as it is, tame already: a blank summary or message is left out as the empty one is)
          const blank = terminalText(strings[i]).trim() === '';
          if (!names.has(strings[i])) names.set(strings[i], blank ? strings[i] : `${'x'.repeat(displayWidth(terminalText(strings[i])))}${'\u200b'.repeat(names.size + 1)}`);
          return names.get(strings[i]) as string;
        });
        expect(lines.length).to.equal(renderTable(tame).split('\n').length);
        expect(hasTerminalControls(table.replace(/\n/g, ''))).to.equal(false);
      }),
      { numRuns: 300 },
    );
  });

  it('property: JSON keeps the exact values', () => {
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 30, maxLength: 30 }), (strings) => {
        const r = report((i) => strings[i]);
        const back = JSON.parse(formatReport(r, 'json', '0.0.0').body) as ScanReport;
        expect(back.target).to.equal(strings[0]);
        expect(back.findings[0].package).to.equal(strings[5]);
        expect(back.findings[0].summary).to.equal(strings[11]);
        expect(back.diagnostics[0].message).to.equal(strings[25]);
      }),
      { numRuns: 100 },
    );
  });

  it('terminalSafe copies deeply, keys included, and leaves the input alone', () => {
    const input = { 'k\x1b': ['v\x1b[1m', { n: 1, b: true, z: null }] };
    expect(terminalSafe(input)).to.deep.equal({ 'k\\x1b': ['v\\x1b[1m', { n: 1, b: true, z: null }] });
    expect(input['k\x1b'][0]).to.equal('v\x1b[1m');
  });
});
