/**
 * Column layout of the CLI's tables (src/cli/table.ts) as `scan --format table` and `affected` print
 * them: columns follow their content up to a bound, measured in terminal columns (a CJK character takes
 * two, a combining mark none); a value longer than the bound is printed whole and the rest of its row
 * continues below at the columns, so every cell starts where its column's header starts. Properties over
 * generated names, versions and repositories of every length (up to well past the bound), with wide and
 * combining characters, and control characters (still escaped).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { affectedTable } from '../../../src/cli/commands/monitor.js';
import { renderTable } from '../../../src/cli/render.js';
import { terminalText } from '../../../src/cli/terminal-text.js';
import { columnWidths, MAX_COLUMN, tableLines } from '../../../src/cli/table.js';
import type { Digest, ScanReport } from '../../../src/core/index.js';

// eslint-disable-next-line no-control-regex -- an independent oracle: no raw control character
const ACTIVE = /[\u0000-\u001f\u007f-\u009f\u202e]/;

/**
 * The terminal width of a generated string, independent of the code under test: the generators below
 * draw only ASCII (one column), CJK ideographs U+4E00–U+9FFF (two) and combining marks U+0300–U+036F (none).
 */
function widthOf(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c >= 0x300 && c <= 0x36f ? 0 : c >= 0x4e00 && c <= 0x9fff ? 2 : 1;
  }
  return n;
}

/** True when `text` begins at terminal column `col` of `line`. */
function startsAt(line: string, col: number, text: string): boolean {
  let w = 0;
  let i = 0;
  for (const ch of line) {
    if (w === col) return line.slice(i).startsWith(text);
    if (w > col) return false;
    w += widthOf(ch);
    i += ch.length;
  }
  return w === col && text === '';
}

/** The terminal column where `word` starts in `line` (the header's column titles). */
function columnOf(line: string, word: string): number {
  return widthOf(line.slice(0, line.indexOf(word)));
}

// A name, version or repository: mostly ASCII of any length up to twice the bound, some CJK and
// combining characters, now and then a control character (escaped to 4 visible columns).
const unit = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789.-+~:/_'.split('')) },
  { weight: 2, arbitrary: fc.integer({ min: 0x4e00, max: 0x9fff }).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x300, max: 0x36f }).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\u001b', '\t', '\u0007') },
);
const value = fc.oneof(
  fc.string({ unit, minLength: 1, maxLength: 12 }),
  fc.string({ unit, minLength: 30, maxLength: 2 * MAX_COLUMN }),
).filter((s) => /^[a-z0-9]/.test(s));

/** A report with one finding per generated package (each its own path, so each its own block). */
function report(pkgs: Array<{ name: string; eco: string; installed: string; fixed: string; id: string }>): ScanReport {
  return {
    target: 'oci:/lab/app:1', digest: `sha256:${'a'.repeat(64)}`, platforms: ['linux/amd64'], packages: [],
    findings: pkgs.map((p, i) => ({ id: p.id, aliases: [], ecosystem: p.eco, package: p.name, installedVersion: p.installed, fixedVersions: [p.fixed], severity: 'high', path: `/p/${i}` })),
    secrets: [], config: [], diagnostics: [], complete: true,
    verdict: { decision: 'allow', complete: true, reasons: [], policy: { name: 'p', revision: 'r' } }, scannedAt: '2026-01-01T00:00:00Z',
  } as unknown as ScanReport;
}

describe('cli: table columns follow their content and stay aligned', () => {
  it('property: scan --format table: every package cell starts at its header\'s column, whole; short rows are one line; no control character', () => {
    const pkg = fc.record({ name: value, eco: fc.constantFrom('Debian', 'npm', 'Go', 'Red Hat:enterprise_linux:9'), installed: value, fixed: value, id: value });
    fc.assert(
      fc.property(fc.array(pkg, { minLength: 1, maxLength: 4 }), (pkgs) => {
        const text = renderTable(report(pkgs));
        for (const l of text.split('\n')) expect(ACTIVE.test(l), JSON.stringify(l)).to.equal(false);
        const lines = text.split('\n');
        const head = lines.findIndex((l) => l.startsWith('PACKAGE '));
        const cols = ['ECOSYSTEM', 'INSTALLED', 'FIXED IN', 'VULNERABILITIES'].map((w) => columnOf(lines[head], w));
        const safe = pkgs.map((p) => ({ ...p, name: terminalText(p.name), installed: terminalText(p.installed), fixed: terminalText(p.fixed), id: terminalText(p.id) }));
        // a column is as wide as its widest cell that fits the bound, at least its customary width
        const fits = (xs: string[], min: number) => Math.max(min, ...xs.map(widthOf).filter((w) => w <= MAX_COLUMN));
        expect(cols[0], 'PACKAGE width').to.equal(fits(safe.map((p) => p.name), 30) + 1);
        expect(cols[2] - cols[1], 'INSTALLED width').to.equal(fits(safe.map((p) => p.installed), 22) + 1);
        safe.forEach((p, i) => {
          const at = lines.indexOf(`  /p/${i}`);
          expect(at, `path line of ${i}`).to.be.greaterThan(head);
          // the package's own lines end where its path line starts; its first line starts with its name
          let first = -1;
          for (let k = head + 1; k < at; k++) if (lines[k] === p.name || lines[k].startsWith(`${p.name} `)) first = k;
          expect(first, `row of ${p.name}`).to.be.greaterThan(head);
          const block = lines.slice(first, at);
          const cells = [p.eco, p.installed, p.fixed, '1 high'];
          let k = 0;
          cells.forEach((c, j) => {
            // in order: on the current line, or on a later line of the block (after an overflow)
            while (k < block.length && !startsAt(block[k], cols[j], c)) k++;
            expect(k, `${JSON.stringify(c)} at column ${cols[j]} in ${JSON.stringify(block)}`).to.be.lessThan(block.length);
          });
          const over = [p.name, p.eco, p.installed, p.fixed].filter((c) => widthOf(c) > MAX_COLUMN).length;
          if (!over) expect(block, 'a row whose cells fit is one line').to.have.length(1);
          expect(block.length, 'one more line per overflowing cell at most').to.be.at.most(1 + over);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('property: affected: IMAGE, PACKAGE, INSTALLED and FIXED start at their header\'s column on every row', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ repository: value, pkg: value, version: value }), { minLength: 1, maxLength: 4 }), (rows) => {
        const out = affectedTable({
          id: 'CVE-2024-0001', more: false, indexBehind: false,
          images: rows.map((r, i) => ({
            digest: `sha256:${String(i).repeat(64)}` as Digest,
            findings: [{ id: 'CVE-2024-0001', aliases: [], package: r.pkg, installedVersion: r.version, fixedVersions: ['9.9'], severity: 'high' as const, path: '/x', firstSeen: '2026-01-01' }],
            verdicts: [{ registry: 'lab', repository: r.repository, tags: ['v1'], decision: 'quarantine' }],
            workloads: [], workloadCount: 0,
          })),
        }, new Map([['lab', 'reg.example:5000']]));
        const lines = out.trimEnd().split('\n');
        for (const l of lines) expect(ACTIVE.test(l), JSON.stringify(l)).to.equal(false);
        const cols = ['STATE', 'PACKAGE', 'INSTALLED', 'FIXED'].map((w) => columnOf(lines[0], w));
        // rows start with the image reference at column 0; continuation lines start with spaces
        const starts = lines.map((l, k) => (k > 0 && l.startsWith('reg.example:5000/') ? k : -1)).filter((k) => k > 0);
        expect(starts).to.have.length(rows.length);
        rows.forEach((r, i) => {
          const block = lines.slice(starts[i], starts[i + 1] ?? lines.length);
          expect(block[0].startsWith(`reg.example:5000/${terminalText(r.repository)}:v1`)).to.equal(true);
          let k = 0;
          for (const [c, j] of [['-', 0], [terminalText(r.pkg), 1], [terminalText(r.version), 2], ['9.9', 3]] as const) {
            while (k < block.length && !startsAt(block[k], cols[j], c)) k++;
            expect(k, `${c} at ${cols[j]} in ${JSON.stringify(block)}`).to.be.lessThan(block.length);
          }
          const fitsAll = widthOf(`reg.example:5000/${terminalText(r.repository)}:v1`) <= MAX_COLUMN && widthOf(terminalText(r.pkg)) <= MAX_COLUMN && widthOf(terminalText(r.version)) <= MAX_COLUMN;
          if (fitsAll) expect(block).to.have.length(1);
        });
        // no column is wider than the bound (or its header)
        expect(cols[0], 'IMAGE width').to.be.at.most(MAX_COLUMN + 2);
      }),
      { numRuns: 150 },
    );
  });

  it('tableLines: widths from content within the bound; a cell over the bound is whole and the row goes on below at the columns', () => {
    const long = `pkg:golang/example.com/${'x'.repeat(60)}`;
    expect(columnWidths([['a', 'bb', 'free text of any width'], ['ccc', 'd', '']])).to.deep.equal([3, 2, 0]);
    expect(tableLines([['NAME', 'VER', 'NOTE'], ['zlib', '1.2', 'ok'], [long, '2.0', 'long']], { indent: '  ' })).to.deep.equal([
      '  NAME VER NOTE',
      '  zlib 1.2 ok',
      `  ${long}`,
      '       2.0 long',
    ]);
    // wide characters take two columns, combining marks none
    expect(tableLines([['日本', 'x'], ['ab', 'y'], ['e\u0301', 'z']])).to.deep.equal(['日本 x', 'ab   y', 'e\u0301    z']);
    // control characters are escaped before they are measured
    expect(tableLines([['a\u001bb', 'x'], ['abcdef', 'y']])).to.deep.equal(['a\\x1bb x', 'abcdef y']);
  });
});
