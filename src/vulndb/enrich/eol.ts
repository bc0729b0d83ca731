/**
 * End-of-life data from endoflife.date (https://endoflife.date/docs/api/v1/): a product's release cycles
 * with the end of regular security support (`eol`) and of extended/LTS support (`eoes`). Read from the
 * product pages of its repository (`products/<name>.md`, YAML front matter with `releases[]`), from its
 * API v1 (`/api/v1/products/<name>` → `result.releases[]` with `eolFrom`/`eoesFrom`), or from the older
 * API (`/api/<name>.json` → `[{ cycle, eol, extendedSupport }]`).
 *
 * Then, which products an image carries: its OS release (os-release ID → product, VERSION_ID → cycle) and
 * the language runtimes official images declare in their config Env (`NODE_VERSION`, `PYTHON_VERSION`,
 * `GOLANG_VERSION`, `JAVA_VERSION`, `RUBY_VERSION`, `PHP_VERSION`) or that are installed as the runtime's
 * own package (Debian/Alpine `nodejs`, `python3.11`, `ruby3.1`, `php8.2-*`, `golang-1.19-go`; Go `stdlib`
 * of a Go binary).
 */
import { PushgateError } from '../../core/errors.js';
import { yamlPackage } from '../../core/yaml-package.js';
import { OS_TABLE } from '../../core/os-table.js';
import type { EolFinding } from '../../core/finding.js';
import type { OsInfo, Package } from '../../core/inventory.js';

// yaml (CommonJS, some 70 modules) is loaded by the first product page parsed (`db update`), not
// with this module: matching reads end-of-life data from the database, never YAML.
const YAML = yamlPackage;

/** One release cycle. Dates are `YYYY-MM-DD`; `true` means "already ended, date unknown", `false` "not planned". */
export interface EolCycle {
  cycle: string;
  codename?: string;
  releaseDate?: string;
  /** End of regular (security) support. */
  eol?: string | boolean;
  /** End of extended support (Debian LTS, Ubuntu ESM, commercial support), where the product has it. */
  eoes?: string | boolean;
}

const asDate = (v: unknown): string | boolean | undefined => {
  if (typeof v === 'boolean') return v;
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v)) return v.slice(0, 10);
  return undefined;
};

/** The keys of a release whose values are read; every other key's value is skipped unread. */
const RELEASE_KEYS = new Set(['releaseCycle', 'codename', 'releaseDate', 'eol', 'eoes']);
const PLAIN_WORDS = /^(?:null|Null|NULL|~|true|True|TRUE|false|False|FALSE)$/;
/** A skipped key's value: a quoted string without escapes, or a plain scalar holding no ` #` nor `: `, each maybe followed by a comment. */
const IGNORED_VALUE = /^(?:"[^"\\]*"|'[^']*'|[A-Za-z0-9/._(+~](?:(?! #|: )[^\t])*?(?<!:))(?: +#.*)?$/;

/**
 * A value of a read key as the YAML 1.2 core schema (the `yaml` library's default) resolves it, for the
 * forms endoflife.date writes: a quoted string without escapes, a date, `true`/`false`, a decimal number,
 * a plain word. Undefined for any other form (then the library reads the whole block).
 */
function plainValue(v: string): unknown {
  if (v.startsWith('"')) return /^"[^"\\]*"$/.test(v) ? v.slice(1, -1) : undefined;
  if (v.startsWith("'")) return /^'[^']*'$/.test(v) ? v.slice(1, -1) : undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return v;
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^\d{1,15}(?:\.\d{1,15})?$/.test(v)) return Number(v);
  if (/^[A-Za-z][A-Za-z0-9 ._()/-]*$/.test(v) && !PLAIN_WORDS.test(v) && !v.endsWith(' ')) return v;
  return undefined;
}

/**
 * Reads a product page's `releases:` block when it is written in the plain form endoflife.date uses (a
 * list of one-line `key: value` mappings, two-space indents, comment and blank lines): the `yaml`
 * library takes about a millisecond per release cycle in a fresh process, most of an import's end-of-life
 * step, and this reader a fraction of that. Returns undefined as soon as a line or value is anything
 * else (a block scalar, flow collection, anchor, escape, tab, CR, duplicate key, other indentation),
 * and the caller hands the block to the library, so both read every page the same (a test keeps the two
 * equal on generated blocks and on endoflife.date's pages).
 */
export function readPlainReleases(block: string): Array<Record<string, unknown>> | undefined {
  if (/[\t\r]/.test(block)) return undefined;
  const lines = block.split('\n');
  if (!/^releases: *$/.test(lines[0])) return undefined;
  const out: Array<Record<string, unknown>> = [];
  let item: Record<string, unknown> | undefined;
  let seen: Set<string> | undefined;
  let dash = -1;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const t = line.trimStart();
    if (t === '' || t.startsWith('#')) continue;
    const indent = line.length - t.length;
    let rest = t;
    if (t.startsWith('- ')) {
      if (dash < 0) dash = indent;
      if (indent !== dash) return undefined;
      item = {};
      seen = new Set();
      out.push(item);
      rest = t.slice(2);
      if (rest.startsWith(' ')) return undefined;
    } else if (!item || indent !== dash + 2) return undefined;
    const m = /^([A-Za-z][A-Za-z0-9_]*): +(\S.*)$/.exec(rest);
    if (!m || seen!.has(m[1])) return undefined;
    seen!.add(m[1]);
    const raw = m[2].trimEnd();
    if (RELEASE_KEYS.has(m[1])) {
      const c = /^(?:"[^"\\]*"|'[^']*')(?= +#| *$)/.exec(raw)?.[0] ?? raw.split(' #')[0].trimEnd();
      const v = plainValue(c);
      if (v === undefined) return undefined;
      item![m[1]] = v;
    } else if (!IGNORED_VALUE.test(raw)) return undefined;
  }
  return out.length ? out : undefined;
}

/**
 * Parses one product file: a Markdown page with YAML front matter, or API JSON (v1 or the older array).
 * @param file the file or URL, for messages; its base name (without `.md`/`.json`) is the product name
 *   unless the API document names it.
 * @throws PushgateError VULNDB naming `file` when no release cycles can be read from it.
 */
export function parseEolProduct(file: string, text: string): { product: string; cycles: EolCycle[] } {
  let product = (file.split(/[\\/]/).pop() ?? file).replace(/\.(md|json)$/, '');
  let releases: Array<Record<string, unknown>> | undefined;
  const t = text.trimStart();
  try {
    if (t.startsWith('---')) {
      const end = t.indexOf('\n---', 3);
      if (end < 0) throw new Error('front matter is not closed by "---"');
      // only the `releases:` block is read (the rest of a page, its auto-update recipes and identifiers, is
      // most of the YAML): from that top-level key to the next one
      const fm = t.slice(3, end);
      const at = fm.search(/^releases:/m);
      const next = at < 0 ? -1 : fm.slice(at + 9).search(/^[^\s#-]/m);
      const block = at < 0 ? fm : fm.slice(at, next < 0 ? undefined : at + 9 + next);
      const doc = { releases: at < 0 ? undefined : readPlainReleases(block) } as { releases?: unknown };
      if (doc.releases === undefined) doc.releases = (YAML().parse(block) as { releases?: unknown } | null)?.releases;
      if (Array.isArray(doc.releases)) releases = (doc.releases as Array<Record<string, unknown>>).map((r) => ({ cycle: r.releaseCycle, codename: r.codename, releaseDate: r.releaseDate, eol: r.eol, eoes: r.eoes }));
    } else {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v)) releases = (v as Array<Record<string, unknown>>).map((r) => ({ cycle: r.cycle, codename: r.codename, releaseDate: r.releaseDate, eol: r.eol, eoes: r.extendedSupport }));
      else {
        const res = (v as { result?: { name?: unknown; releases?: unknown } })?.result;
        if (typeof res?.name === 'string') product = res.name;
        if (Array.isArray(res?.releases))
          releases = (res.releases as Array<Record<string, unknown>>).map((r) => ({
            cycle: r.name, codename: r.codename, releaseDate: r.releaseDate,
            eol: r.eolFrom ?? r.isEol, eoes: r.eoesFrom ?? (r.isEoes === undefined ? undefined : r.isEoes),
          }));
      }
    }
  } catch (err) {
    throw new PushgateError('VULNDB', `end-of-life file ${file}: ${(err as Error).message}: truncated or corrupt? fetch it again`);
  }
  if (!releases?.length) throw new PushgateError('VULNDB', `end-of-life file ${file}: no release cycles (expected an endoflife.date product page or API answer)`);
  const cycles: EolCycle[] = [];
  for (const [i, r] of releases.entries()) {
    if (typeof r.cycle !== 'string' && typeof r.cycle !== 'number') throw new PushgateError('VULNDB', `end-of-life file ${file}: releases[${i}] has no release cycle`);
    const c: EolCycle = { cycle: String(r.cycle) };
    if (typeof r.codename === 'string') c.codename = r.codename;
    const rd = asDate(r.releaseDate);
    if (typeof rd === 'string') c.releaseDate = rd;
    const eol = asDate(r.eol);
    if (eol !== undefined) c.eol = eol;
    const eoes = asDate(r.eoes);
    if (eoes !== undefined) c.eoes = eoes;
    cycles.push(c);
  }
  return { product, cycles };
}

/**
 * os-release `ID` → endoflife.date product, read from the OS table's `eolProduct` column (the one place
 * that maps an operating system; src/core/os-table.ts). Families without such a product are absent.
 */
export const OS_EOL_PRODUCTS: Readonly<Record<string, string>> = Object.fromEntries(
  OS_TABLE.flatMap((f) => (f.eolProduct ? f.ids.map((id) => [id.toLowerCase(), f.eolProduct as string]) : [])),
);

/** Config Env variables of official images → the runtime's endoflife.date product. */
export const RUNTIME_ENV: Record<string, string> = {
  NODE_VERSION: 'nodejs', PYTHON_VERSION: 'python', GOLANG_VERSION: 'go', JAVA_VERSION: 'eclipse-temurin', RUBY_VERSION: 'ruby', PHP_VERSION: 'php',
};

/** Runtime packages (the runtime's own package in the OS package manager, Go's `stdlib`) → product. */
const RUNTIME_PACKAGES: Array<{ ecosystems: string[]; name: RegExp; product: string; cycleFromName?: boolean }> = [
  { ecosystems: ['Debian', 'Ubuntu', 'Alpine'], name: /^nodejs$/, product: 'nodejs' },
  { ecosystems: ['Debian', 'Ubuntu'], name: /^python(\d+\.\d+)$/, product: 'python', cycleFromName: true },
  { ecosystems: ['Alpine'], name: /^python3$/, product: 'python' },
  { ecosystems: ['Debian', 'Ubuntu'], name: /^ruby(\d+\.\d+)$/, product: 'ruby', cycleFromName: true },
  { ecosystems: ['Alpine'], name: /^ruby$/, product: 'ruby' },
  { ecosystems: ['Debian', 'Ubuntu'], name: /^php(\d+\.\d+)-(cli|common|fpm)$/, product: 'php', cycleFromName: true },
  { ecosystems: ['Debian', 'Ubuntu'], name: /^golang-(\d+\.\d+)-go$/, product: 'go', cycleFromName: true },
  { ecosystems: ['Alpine'], name: /^go$/, product: 'go' },
  { ecosystems: ['Go'], name: /^stdlib$/, product: 'go' },
];

/** {@link RUNTIME_PACKAGES} by ecosystem, in their order (an image's packages are mostly of ecosystems none names). */
const RUNTIME_BY_ECOSYSTEM = new Map<string, typeof RUNTIME_PACKAGES>();
for (const r of RUNTIME_PACKAGES) {
  for (const e of r.ecosystems) {
    const l = RUNTIME_BY_ECOSYSTEM.get(e);
    if (l) l.push(r);
    else RUNTIME_BY_ECOSYSTEM.set(e, [r]);
  }
}

/** A product release an image carries, and where that was read. */
export interface EolSubject {
  kind: 'os' | 'runtime';
  product: string;
  /** The version as found (`12`, `20.11.1`, `jdk-21.0.2+13`). */
  version: string;
  /** `os-release`, `config:Env NODE_VERSION`, `package nodejs (Debian) /var/lib/dpkg/status`. */
  via: string;
  path?: string;
  layer?: string;
}

/** Numeric components of a version string: `jdk-21.0.2+13` → [21, 0, 2], `1:18.19.0+dfsg-1` → [18, 19, 0]. */
function numbers(version: string): string[] {
  const v = version.replace(/^\d+:/, '').replace(/^[^\d]*/, '');
  return (/^\d+(\.\d+)*/.exec(v)?.[0] ?? '').split('.').filter(Boolean);
}

/** Which products an image carries (see the module comment). Duplicates (same product and version) are dropped. */
export function eolSubjects(os: OsInfo | undefined, env: string[] | undefined, packages: Package[]): EolSubject[] {
  const out: EolSubject[] = [];
  const seen = new Set<string>();
  const add = (s: EolSubject): void => {
    const k = `${s.product}\u0000${s.version}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(s);
  };
  const osProduct = os && OS_EOL_PRODUCTS[os.id.toLowerCase()];
  if (os && osProduct && os.versionId) add({ kind: 'os', product: osProduct, version: os.versionId, via: 'os-release' });
  for (const e of env ?? []) {
    const at = e.indexOf('=');
    const product = RUNTIME_ENV[e.slice(0, at)];
    const version = e.slice(at + 1);
    if (product && at > 0 && numbers(version).length) add({ kind: 'runtime', product, version, via: `config:Env ${e.slice(0, at)}` });
  }
  for (const p of packages) {
    const rules = RUNTIME_BY_ECOSYSTEM.get(p.ecosystem);
    if (!rules) continue;
    for (const r of rules) {
      const m = r.name.exec(p.name);
      if (!m) continue;
      const version = r.cycleFromName ? m[1] : p.version;
      const s: EolSubject = { kind: 'runtime', product: r.product, version, via: `package ${p.name} (${p.ecosystem})`, path: p.path };
      if (p.layer) s.layer = p.layer;
      add(s);
    }
  }
  return out;
}

/** The cycle a version belongs to: the longest leading run of its numbers that names a cycle (`3.12.1` → `3.12`, `20.11.1` → `20`). */
export function cycleOf(cycles: EolCycle[], version: string): EolCycle | undefined {
  const n = numbers(version);
  for (let k = n.length; k > 0; k--) {
    const want = n.slice(0, k).join('.');
    const c = cycles.find((x) => x.cycle === want);
    if (c) return c;
  }
  return undefined;
}

const END_OF_DAY = 24 * 3600 * 1000 - 1;

/** Whether a cycle's date field has passed at `now` (ms); a date means through that day, UTC. */
function passed(v: string | boolean | undefined, now: number): boolean {
  if (v === true) return true;
  if (typeof v !== 'string') return false;
  return now > Date.parse(`${v}T00:00:00Z`) + END_OF_DAY;
}

/**
 * The end-of-life findings of an image at `now` (ms since the epoch): one per subject whose cycle's `eol`
 * has passed. Subjects whose product or cycle is not in the data produce nothing (the caller may say so).
 * @param lookup product → its cycles (from the database).
 */
export function eolFindings(subjects: EolSubject[], lookup: (product: string) => EolCycle[] | undefined, now: number): EolFinding[] {
  const out: EolFinding[] = [];
  for (const s of subjects) {
    const cycles = lookup(s.product);
    const c = cycles && cycleOf(cycles, s.version);
    if (!c || !passed(c.eol, now)) continue;
    const f: EolFinding = {
      id: s.kind === 'os' ? 'os-eol' : 'runtime-eol', product: s.product, cycle: c.cycle, version: s.version, via: s.via,
      eol: typeof c.eol === 'string' ? c.eol : 'unknown', inExtendedSupport: false,
    };
    if (c.codename) f.codename = c.codename;
    if (c.eoes !== undefined && c.eoes !== false) {
      f.extendedSupportUntil = typeof c.eoes === 'string' ? c.eoes : 'unknown';
      f.inExtendedSupport = !passed(c.eoes, now);
    }
    if (s.path) f.path = s.path;
    if (s.layer) f.layer = s.layer;
    out.push(f);
  }
  return out;
}
