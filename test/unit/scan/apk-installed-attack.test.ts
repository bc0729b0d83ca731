/**
 * A pusher writes an apk installed database that apk-tools reads one way and the scanner another. The
 * scanner kept the first `P:`/`V:` of a stanza; apk-tools 2.x assigns each one it reads
 * (package.c apk_pkg_add_info, called per line by database.c apk_db_fdb_read), so the last counts:
 * `V:3.1.4-r5` (fixed) followed by `V:3.1.0-r0` (vulnerable) is 3.1.0-r0 to apk and was 3.1.4-r5 to the
 * scanner. apk-tools also ends a stanza at any line shorter than two bytes and rejects the whole
 * database at a line whose second byte is not `:`. No apk-tools runs on this machine (Debian bookworm
 * has no package of it), so the rules are apk-tools' source, restated in {@link apkReads}; a database
 * apk-tools writes never repeats a field or a name, so the scanner refuses those (`apk-ambiguous`).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parseApkInstalled } from '../../../src/scan/analyzers/apk.js';
import { ROOT } from '../../helpers/lab.js';

/** apk-tools 2.12 apk_db_fdb_read, for the fields pushgate reports: `name version` of each stanza, or undefined when apk rejects the file. */
function apkReads(text: string): string[] | undefined {
  const out: string[] = [];
  let cur: Record<string, string> = {};
  for (const l of text.split('\n')) {
    if (l.length < 2) {
      if (cur.P && cur.V) out.push(`${cur.P} ${cur.V}`);
      cur = {};
      continue;
    }
    if (l[1] !== ':') return undefined;
    cur[l[0]!] = l.slice(2);
  }
  if (cur.P && cur.V) out.push(`${cur.P} ${cur.V}`);
  return out.sort();
}

const STANZA = fc.record({
  name: fc.constantFrom('musl', 'busybox', 'libcrypto3', 'libssl3', 'zlib'),
  version: fc.constantFrom('1.2.4-r2', '3.1.0-r0', '3.1.4-r5', '1.36.1-r15'),
  /** a second P:/V: line later in the stanza, or a one-byte line, a CR, a line apk rejects */
  twist: fc.option(fc.oneof(
    fc.record({ field: fc.constantFrom('P', 'V'), value: fc.constantFrom('musl', 'libssl3', '3.1.0-r0', '9.9-r0'), at: fc.nat(6) }),
    fc.record({ line: fc.constantFrom('x', '\r', 'garbage', ' V:1.0-r0', 'V:1.0-r0\r'), at: fc.nat(6) }),
  ), { nil: undefined, freq: 2 }),
});

const DB = fc.array(STANZA, { minLength: 1, maxLength: 5 }).map((list) => list.map((s) => {
  const lines = ['C:Q1aaaaaaaaaaaaaaaaaaaaaaaaaaa=', `P:${s.name}`, `V:${s.version}`, 'A:x86_64', 'S:1000', 'o:src', 'F:usr/lib', `R:lib${s.name}.so`];
  if (s.twist) {
    const at = 2 + (s.twist.at % (lines.length - 1));
    lines.splice(at, 0, 'field' in s.twist ? `${s.twist.field}:${s.twist.value}` : s.twist.line);
  }
  return `${lines.join('\n')}\n`;
}).join('\n'));

describe('apk installed database: read as apk-tools reads it, or refused', () => {
  it('the packages apk-tools reads, or an incomplete scan (fast-check, rules of apk_db_fdb_read)', () => {
    let agreed = 0;
    fc.assert(fc.property(DB, (text) => {
      const { packages, ambiguous } = parseApkInstalled(text, '/lib/apk/db/installed');
      const want = apkReads(text);
      if (want === undefined) {
        expect(ambiguous, `apk rejects ${JSON.stringify(text)}`).to.not.deep.equal([]);
        return;
      }
      if (ambiguous.length) return;
      expect(packages.map((p) => `${p.name} ${p.version}`).sort(), JSON.stringify(text)).to.deep.equal(want);
      agreed++;
    }), { numRuns: 300 });
    expect(agreed).to.be.greaterThan(30);
  });

  it('a second V: in a stanza is the version apk-tools installs, and the scan is incomplete', () => {
    const { packages, ambiguous } = parseApkInstalled('P:libssl3\nV:3.1.4-r5\nA:x86_64\nV:3.1.0-r0\no:openssl\n\n', 'p');
    expect(packages.map((p) => `${p.name} ${p.version} ${p.sourceName}`)).to.deep.equal(['libssl3 3.1.0-r0 openssl']);
    expect(ambiguous.join()).to.contain('V: given twice');
  });

  it('real databases (trivy\'s fixtures, written by apk-tools) read with nothing ambiguous', () => {
    const dir = path.join(ROOT, 'test/fixtures/scan/parsers/apk');
    for (const c of fs.readdirSync(dir)) {
      const f = path.join(dir, c, 'installed');
      if (!fs.existsSync(f)) continue;
      // trivy's fixture adds by hand one stanza apk-tools never writes (a name without a version, which
      // apk_db_pkg_add refuses, and the database with it); the rest is apk-tools' own
      const ambiguous = parseApkInstalled(fs.readFileSync(f, 'utf8'), f).ambiguous;
      expect(ambiguous, c).to.deep.equal(c === 'trivy-apk' ? ['line 24: a stanza of invalidPackageWithoutAVersion without V:'] : []);
    }
  });
});
