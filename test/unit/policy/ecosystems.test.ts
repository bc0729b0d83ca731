/**
 * The ecosystems a policy may name (src/policy/ecosystems.ts) stay equal to what the rest of pushgate
 * knows: the vulnerability database's comparators, plus every ecosystem the scanner writes on a package.
 * policy may not import vulndb or scan (DESIGN.md §2), so the lists are compared here.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { ADVISORY_ECOSYSTEMS, INVENTORY_ONLY_ECOSYSTEMS, POLICY_ECOSYSTEMS, policyEcosystem } from '../../../src/policy/ecosystems.js';
import { osInventoryEcosystems } from '../../../src/core/os-table.js';
import { supportedEcosystems } from '../../../src/vulndb/ecosystems/index.js';
import { ROOT } from '../../helpers/lab.js';

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

describe('policy: the ecosystems a rule may name', () => {
  it('ADVISORY_ECOSYSTEMS is exactly the vulnerability database comparators, in the same spelling', () => {
    expect([...ADVISORY_ECOSYSTEMS].sort()).to.deep.equal(supportedEcosystems().sort());
  });

  it('every ecosystem the scanner writes on a package is known; the inventory-only ones are all written', () => {
    const written = new Set<string>();
    for (const f of tsFiles(path.join(ROOT, 'src/scan'))) {
      const text = fs.readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\b(?:ecosystem|eco): '([^']+)'/g)) written.add(m[1]);
      for (const m of text.matchAll(/_ECOSYSTEM = '([^']+)'/g)) written.add(m[1]);
    }
    // OS packages take the inventory ecosystem of the image's OS table family (src/scan/merge.ts).
    for (const e of osInventoryEcosystems()) written.add(e);
    expect(written.size, 'the scanner source no longer spells ecosystems as this test expects').to.be.greaterThan(10);
    expect([...written].filter((e) => policyEcosystem(e) === undefined)).to.deep.equal([]);
    expect(INVENTORY_ONLY_ECOSYSTEMS.filter((e) => !written.has(e))).to.deep.equal([]);
  });

  it('lookups ignore case and release suffixes; unknown names are undefined', () => {
    expect(POLICY_ECOSYSTEMS.map((e) => policyEcosystem(e.toUpperCase()))).to.deep.equal(POLICY_ECOSYSTEMS);
    expect(policyEcosystem('debian:12')).to.equal('Debian');
    expect(policyEcosystem('Red Hat:enterprise_linux:9::appstream')).to.equal('Red Hat');
    expect(policyEcosystem('npmm')).to.equal(undefined);
    expect(policyEcosystem('')).to.equal(undefined);
  });
});
