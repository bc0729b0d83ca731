/**
 * The (ecosystem, package) pairs an inventory is looked up under by {@link VulnDb.match}: the same
 * ecosystem plan (an OS package is judged in its image's OS release ecosystem, by its source name)
 * and the same name normalization, so a pair changed between two indexes (src/vulndb/digest.ts)
 * finds exactly the inventories whose findings it can change.
 */
import type { OsInfo, Package } from '../core/inventory.js';
import { splitEcosystem } from './ecosystems/index.js';
import { planFor } from './db.js';
import { packageKey } from './digest.js';
import { osEcosystem } from './release.js';
import { normalizeName } from './schema.js';

/**
 * The pair each package is looked up under (`<ecosystem base>:<normalized name>`), or undefined for a
 * package the matcher skips (unsupported ecosystem, a language package owned by an OS package).
 * @returns one entry per package, in order.
 */
export function advisoryKeys(packages: readonly Package[], os?: OsInfo): Array<string | undefined> {
  const osEco = osEcosystem(os);
  const osBase = osEco ? splitEcosystem(osEco).base.toLowerCase() : undefined;
  const plans = new Map<string, ReturnType<typeof planFor>>();
  return packages.map((pkg) => {
    let plan = plans.get(pkg.ecosystem);
    if (plan === undefined) {
      plan = planFor(pkg.ecosystem, osEco, osBase);
      plans.set(pkg.ecosystem, plan);
    }
    if (!plan) return undefined;
    if (!plan.isOs && pkg.ownedBy) return undefined;
    const name = plan.isOs ? pkg.sourceName || pkg.name : pkg.name;
    return packageKey(plan.base, normalizeName(plan.base, name));
  });
}
