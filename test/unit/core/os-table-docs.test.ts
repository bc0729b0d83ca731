/**
 * docs/os-coverage.md shows the OS table (src/core/os-table.ts) as it is: the table between its
 * markers is generated from OS_TABLE (UPDATE_GOLDEN=1 rewrites it).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { OS_TABLE } from '../../../src/core/os-table.js';
import { ROOT } from '../../helpers/lab.js';

const BEGIN = '<!-- os-table:begin (generated from src/core/os-table.ts by test/unit/core/os-table-docs.test.ts) -->';
const END = '<!-- os-table:end -->';

/** The Markdown table of the OS table. */
function markdown(): string {
  const rows = OS_TABLE.map((f) => {
    const eg = f.example && f.release?.({ id: f.ids[0], ...f.example });
    const eco = f.ecosystem ? `\`${f.ecosystem}${eg ? `:${eg}` : ''}\`` : '**not covered**';
    const names = { source: 'source package', binary: 'binary package', either: 'binary or source package' }[f.names];
    return `| ${f.family} | ${f.ids.map((i) => `\`${i}\``).join(', ')} | ${f.packageDb} | ${f.comparator} | ${eco} | ${f.ecosystem ? f.releaseRule : f.uncovered} | ${f.ecosystem ? names : '—'} | ${f.advisorySource} | ${f.eolProduct ? `\`${f.eolProduct}\`` : '—'} |`;
  });
  return [
    '| family | os-release `ID` | package database | version order | OSV ecosystem (example) | release rule / why not covered | advisories name | advisory source | endoflife.date product |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

describe('docs/os-coverage.md', () => {
  it('holds the OS table as generated from src/core/os-table.ts', () => {
    const file = path.join(ROOT, 'docs/os-coverage.md');
    const text = fs.readFileSync(file, 'utf8');
    const a = text.indexOf(BEGIN);
    const b = text.indexOf(END);
    expect(a, 'markers').to.be.greaterThan(-1);
    expect(b).to.be.greaterThan(a);
    const want = `${BEGIN}\n${markdown()}\n${END}`;
    const have = text.slice(a, b + END.length);
    if (process.env.UPDATE_GOLDEN === '1' && have !== want) fs.writeFileSync(file, text.slice(0, a) + want + text.slice(b + END.length));
    else expect(have).to.equal(want);
  });
});
