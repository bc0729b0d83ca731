/**
 * The pushgate console: a single page under `/ui/` on the public `/api/v1` (nothing else).
 * Pages are addressed by the URL fragment (`#/images?repository=app`), so the server serves one
 * static document and every page can be bookmarked, reloaded and reached by keyboard.
 */
import { api, ApiError, currentSession, keepToken, setUnauthorizedHandler, signOut, type Session } from './api.js';
import { badge, h, replace, s, shortDigest, table, time, type Child } from './dom.js';

// ---- API shapes (the parts the console reads) ----

interface Reason { rule: string; action: string; message: string; findings?: string[] }
interface Verdict {
  registry: string; repository: string; digest: string; tags: string[]; decision: string; complete: boolean; mode: string;
  reasons: Reason[]; enforcement?: { action: string; status: string; detail: string }; evaluatedAt: string;
  policy: { name: string; revision: string }; vulndb: { builtAt: string | null };
}
interface Finding {
  id: string; aliases: string[]; summary?: string; ecosystem: string; package: string; installedVersion: string; fixedVersions: string[];
  severity: string; cvss?: { score: number }; layer?: string; path: string; kev?: unknown; origin?: 'base' | 'app';
}
interface Pkg { ecosystem: string; name: string; version: string; layer?: string; path: string; purl: string; origin?: 'base' | 'app' }
interface VulnSummary { counts: Record<string, number>; fixable: Record<string, number> }
interface BaseRecommendation { kind: string; repository: string; tag: string; digest: string; created?: string; since?: string; summary?: VulnSummary; fixes?: string[] }
interface BaseImage { platform?: string; method: string; repository?: string; tags: string[]; digest?: string; layers: string[]; note: string; created?: string; summary?: VulnSummary; recommendations?: BaseRecommendation[] }
interface Report {
  target: string; packages: Pkg[]; findings: Finding[]; complete: boolean; scannedAt: string; os?: { id: string; versionId?: string }; baseLayers?: string[];
  bases?: BaseImage[];
}
interface AuditRecord { seq: number; at: string; actor: string; action: string; registry?: string; repository?: string; digest?: string; tag?: string; detail?: Record<string, unknown> }
interface QuarantineRecord { id: number; at: number; registry: string; repository: string; tag: string; digest: string; quarantineRepository: string; state: string; stateAt: number }
interface StoredException { id: number; at: string; actor: string; expires: string; expired: boolean; revokedAt?: string; revokedBy?: string; spec: Record<string, unknown> }
interface Overview {
  verdicts: Array<{ registry: string; decision: string; count: number }>; quarantined: number; queue: Record<string, number>;
  vulndb: null | { builtAt: string | null; ageSeconds: number | null; records: number; byEcosystem: Record<string, number>; sourceAgesSeconds: Record<string, number> };
  newlyFailing: Array<{ at: string; registry?: string; repository?: string; digest?: string; tag?: string; decision: string; via: string; rules: string[] }>;
}
interface Blocked { since: string; bucket: 'day' | 'hour'; series: Array<{ t: string; registry: string; rule: string; count: number }>; pushes: number; rules: string[]; registries: string[] }
interface Affected {
  id: string; more: boolean; next?: string; indexBehind: boolean;
  images: Array<{ digest: string; findings: Array<{ id: string; aliases: string[]; package: string; installedVersion: string; fixedVersions: string[]; severity: string; firstSeen: string }>; verdicts: Array<{ registry: string; repository: string; tags: string[]; decision: string }>; workloads?: Workload[]; workloadCount?: number }>;
}

/** A workload admission saw running an image (src/store/workloads.ts). */
interface Workload { cluster?: string; namespace: string; kind: string; name: string; firstSeen: string; lastSeen: string }

const PAGES: Array<[string, string]> = [
  ['overview', 'Overview'],
  ['images', 'Images'],
  ['quarantine', 'Quarantine'],
  ['exceptions', 'Exceptions'],
  ['vulnerabilities', 'Vulnerabilities'],
  ['audit', 'Audit'],
];
const PAGE_SIZE = 25;

const main = () => document.getElementById('main')!;
const say = (text: string) => replace(document.getElementById('status')!, text);

/** The route: page name, path rest and query of the fragment. */
function route(): { page: string; rest: string; query: URLSearchParams } {
  const frag = location.hash.replace(/^#\/?/, '');
  const [path, qs] = [frag.split('?')[0], frag.includes('?') ? frag.slice(frag.indexOf('?') + 1) : ''];
  const [page, ...rest] = path.split('/');
  return { page: page || 'overview', rest: decodeURIComponent(rest.join('/')), query: new URLSearchParams(qs) };
}

/** A fragment link (`#/page?k=v`): values percent-encoded, so a name cannot become markup or another page. */
function link(page: string, query: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
  const qs = q.toString();
  return `#/${page}${qs ? `?${qs}` : ''}`;
}

/** `repository:tag (registry)`: the registry is a configured name, not a host, so it is set apart. */
const where = (registry: string | undefined, repository: string | undefined, tag?: string) => `${repository ?? ''}${tag ? `:${tag}` : ''}${registry ? ` (${registry})` : ''}`;

const imageLink = (digest: string, text?: string) => h('a', { href: `#/image/${encodeURIComponent(digest)}`, class: 'mono', title: digest }, text ?? shortDigest(digest));

function errorBox(e: unknown): HTMLElement {
  const msg = e instanceof ApiError ? `${e.status === 403 ? 'Not allowed' : 'Error'}: ${e.message}` : `Error: ${(e as Error).message}`;
  return h('p', { class: 'error', role: 'alert' }, msg);
}

/** A labelled form control. */
function field(label: string, control: HTMLElement): HTMLElement {
  return h('label', null, label, control);
}

function input(name: string, value = '', attrs: Record<string, string | boolean> = {}): HTMLInputElement {
  return h('input', { name, value, ...attrs });
}

// ---- sign-in ----

function renderSignIn(message?: string): void {
  renderNav(undefined);
  const token = h('textarea', { id: 'token', name: 'token', required: true, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'token-help' });
  const form = h(
    'form',
    { class: 'signin', onsubmit: (ev: Event) => void submit(ev) },
    h('h1', null, 'Sign in'),
    message ? h('p', { class: 'error', role: 'alert' }, message) : null,
    h('label', { for: 'token' }, 'API token (a JWT signed for api.jwt, or a viewer token of api.tokens)'),
    token,
    h('p', { id: 'token-help', class: 'note' }, 'The token is kept in this browser tab only (sessionStorage) and sent as a bearer token to /api/v1. It is never put in a URL.'),
    h('button', { type: 'submit' }, 'Sign in'),
  );
  async function submit(ev: Event) {
    ev.preventDefault();
    const t = token.value.trim();
    if (!t) return;
    keepToken(t);
    try {
      await api('overview');
    } catch (e) {
      signOut();
      renderSignIn(e instanceof ApiError ? e.message : (e as Error).message);
      return;
    }
    if (!location.hash || location.hash === '#/signin') location.hash = '#/overview';
    else void render();
  }
  replace(main(), form);
  token.focus();
}

function renderNav(sess: Session | undefined): void {
  const { page } = route();
  const current = page === 'image' ? 'images' : page;
  replace(document.getElementById('nav')!, sess ? PAGES.map(([p, label]) => h('a', { href: `#/${p}`, ...(p === current ? { 'aria-current': 'page' } : {}) }, label)) : []);
  replace(
    document.getElementById('who')!,
    sess
      ? [
          h('span', null, `${sess.subject} (${sess.role})`),
          h('button', { type: 'button', onclick: () => { signOut(); renderSignIn(); } }, 'Sign out'),
        ]
      : [],
  );
}

// ---- pages ----

async function render(): Promise<void> {
  const sess = currentSession();
  if (!sess) return renderSignIn();
  if (sess.expires && sess.expires < Date.now()) {
    signOut();
    return renderSignIn('The token has expired: paste a new one.');
  }
  renderNav(sess);
  const r = route();
  const m = main();
  replace(m, h('p', null, 'Loading…'));
  const pages: Record<string, () => Promise<Child>> = {
    overview: () => overviewPage(),
    images: () => imagesPage(r.query),
    image: () => imagePage(r.rest, sess),
    quarantine: () => quarantinePage(r.query, sess),
    exceptions: () => exceptionsPage(r.query, sess),
    vulnerabilities: () => vulnerabilitiesPage(r.query),
    audit: () => auditPage(r.query),
  };
  const page = pages[r.page];
  try {
    const content = page ? await page() : h('p', null, 'No such page.');
    replace(m, content);
    document.title = `${PAGES.find(([p]) => p === (r.page === 'image' ? 'images' : r.page))?.[1] ?? 'pushgate'} · pushgate console`;
    say(`${document.title} loaded`);
  } catch (e) {
    replace(m, errorBox(e));
  }
}

const PALETTE = ['#0b5cad', '#a1140f', '#7a4d00', '#1a6b34', '#6a2c91', '#00626f', '#8a3b12', '#3d4451'];

/** Blocked pushes per bucket, stacked by rule and registry, as SVG with a text legend and a data table. */
function blockedChart(b: Blocked): HTMLElement {
  const keys = [...new Set(b.series.map((x) => `${x.rule} @ ${x.registry}`))].sort();
  const width = b.bucket === 'hour' ? 3_600_000 : 86_400_000;
  const start = Date.parse(b.since);
  const n = Math.max(1, Math.round((Date.now() - start) / width) + 1);
  const totals = new Array<number>(n).fill(0);
  for (const x of b.series) totals[Math.min(n - 1, Math.floor((Date.parse(x.t) - start) / width))] += x.count;
  const max = Math.max(1, ...totals);
  const W = 900, H = 240, L = 40, B = 30, bw = (W - L - 10) / n;
  const stack = new Array<number>(n).fill(0);
  const bars: SVGElement[] = [];
  for (const x of b.series) {
    const i = Math.min(n - 1, Math.floor((Date.parse(x.t) - start) / width));
    const k = `${x.rule} @ ${x.registry}`;
    const hgt = (x.count / max) * (H - B - 10);
    const y = H - B - stack[i] - hgt;
    stack[i] += hgt;
    bars.push(
      s('rect', { x: L + i * bw + 1, y, width: Math.max(1, bw - 2), height: hgt, fill: PALETTE[keys.indexOf(k) % PALETTE.length], stroke: '#000', 'stroke-width': 0.5, 'data-rule': x.rule, 'data-registry': x.registry },
        s('title', null, `${new Date(x.t).toLocaleDateString()}: ${x.count} blocked by ${x.rule} in ${x.registry}`)),
    );
  }
  const labels: SVGElement[] = [];
  const every = Math.ceil(n / 10);
  for (let i = 0; i < n; i += every) {
    const d = new Date(start + i * width);
    labels.push(s('text', { x: L + i * bw + bw / 2, y: H - 10, 'text-anchor': 'middle', 'font-size': 11, fill: '#1b1f24' }, b.bucket === 'hour' ? d.toLocaleTimeString(undefined, { hour: '2-digit' }) : d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })));
  }
  const svg = s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': 'chart-title' },
    s('title', { id: 'chart-title' }, `Blocked pushes per ${b.bucket}: ${b.pushes} in total since ${new Date(b.since).toLocaleDateString()}`),
    s('line', { x1: L, y1: H - B, x2: W - 5, y2: H - B, stroke: '#1b1f24' }),
    s('text', { x: L - 6, y: 16, 'text-anchor': 'end', 'font-size': 11, fill: '#1b1f24' }, max),
    s('text', { x: L - 6, y: H - B, 'text-anchor': 'end', 'font-size': 11, fill: '#1b1f24' }, 0),
    bars,
    labels,
  );
  const byKey = new Map<string, number>();
  for (const x of b.series) byKey.set(`${x.rule} @ ${x.registry}`, (byKey.get(`${x.rule} @ ${x.registry}`) ?? 0) + x.count);
  return h(
    'section',
    { 'aria-labelledby': 'blocked-h' },
    h('h2', { id: 'blocked-h' }, `Blocked pushes (last ${Math.round((Date.now() - start) / 86_400_000)} days)`),
    b.pushes ? svg : h('p', null, 'No push was blocked in this period.'),
    b.pushes
      ? h('ul', { class: 'legend', 'aria-label': 'Legend: rule @ registry, total' }, keys.map((k, i) => h('li', null, h('span', { class: 'swatch', 'aria-hidden': 'true', 'data-colour': PALETTE[i % PALETTE.length] }), `${k}: ${byKey.get(k)}`)))
      : null,
    b.pushes
      ? h('details', null, h('summary', null, 'Chart data as a table'), table('Blocked pushes by bucket, rule and registry', ['Period start', 'Registry', 'Rule', 'Blocked'], b.series.map((x) => [time(x.t), x.registry, x.rule, x.count])))
      : null,
  );
}

async function overviewPage(): Promise<Child> {
  const [o, b] = await Promise.all([api<Overview>('overview'), api<Blocked>('stats/blocked', { query: { days: 14 } })]);
  const byDecision = new Map<string, number>();
  for (const v of o.verdicts) byDecision.set(v.decision, (byDecision.get(v.decision) ?? 0) + v.count);
  const age = o.vulndb?.ageSeconds;
  const chart = blockedChart(b);
  // Swatch colours are set through the CSSOM (allowed by the page's CSP, unlike style attributes).
  for (const sw of chart.querySelectorAll<HTMLElement>('.swatch')) sw.style.background = sw.dataset.colour ?? '';
  return h(
    'div',
    null,
    h('h1', null, 'Overview'),
    h(
      'div',
      { class: 'cards' },
      h('div', { class: 'card' }, h('div', null, 'Quarantined now'), h('div', { class: 'big' }, h('a', { href: '#/quarantine' }, String(o.quarantined)))),
      h('div', { class: 'card' }, h('div', null, 'Stored verdicts'), h('ul', null, ['reject', 'quarantine', 'warn', 'allow'].map((d) => h('li', null, badge('d', d), ` ${byDecision.get(d) ?? 0}`)))),
      h(
        'div',
        { class: 'card' },
        h('div', null, 'Vulnerability database'),
        o.vulndb
          ? [
              h('div', null, 'Built ', time(o.vulndb.builtAt)),
              h('div', null, age === null || age === undefined ? 'Age unknown' : `Age ${age < 7200 ? `${Math.round(age / 60)} minutes` : age < 172800 ? `${Math.round(age / 3600)} hours` : `${Math.round(age / 86400)} days`}`),
              h('div', null, `${o.vulndb.records} advisories`),
            ]
          : h('div', null, 'Not loaded: the gate cannot judge images yet'),
      ),
      h('div', { class: 'card' }, h('div', null, 'Event queue'), h('ul', null, Object.entries(o.queue).map(([k, v]) => h('li', null, `${k}: ${v}`)))),
    ),
    chart,
    o.vulndb
      ? h('section', null, h('h2', null, 'Database coverage'), table('Advisories per ecosystem', ['Ecosystem', 'Advisories'], Object.entries(o.vulndb.byEcosystem).sort().map(([k, v]) => [k, v])))
      : null,
    h(
      'section',
      null,
      h('h2', null, 'Newly failing images'),
      table(
        'Newly failing images',
        ['When', 'Image', 'Decision', 'Rules', 'Found by'],
        o.newlyFailing.map((f) => [time(f.at), h('span', null, `${where(f.registry, f.repository, f.tag)} `, f.digest ? imageLink(f.digest) : null), badge('d', f.decision), f.rules.join(', '), f.via]),
      ),
    ),
  );
}

/** Previous/next links of a keyset-paged table: `prev` goes back to the first page. */
function pager(page: string, query: URLSearchParams, next: string | undefined): HTMLElement {
  const base = Object.fromEntries([...query].filter(([k]) => k !== 'after'));
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    query.get('after') ? h('a', { href: link(page, base) }, 'First page') : null,
    next ? h('a', { href: link(page, { ...base, after: next }), rel: 'next' }, 'Next page') : h('span', { class: 'note' }, 'End of list'),
  );
}

function filterForm(page: string, fields: Array<[string, string, HTMLElement?]>, query: URLSearchParams): HTMLElement {
  const controls = fields.map(([name, label, control]) => {
    const c = control ?? input(name, query.get(name) ?? '');
    if (c instanceof HTMLSelectElement || c instanceof HTMLInputElement) c.id = `f-${name}`;
    return h('label', { for: `f-${name}` }, label, c);
  });
  return h(
    'form',
    {
      class: 'filters',
      role: 'search',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const fd = new FormData(ev.target as HTMLFormElement);
        const q: Record<string, string> = {};
        for (const [k, v] of fd) if (typeof v === 'string' && v.trim()) q[k] = v.trim();
        location.hash = link(page, q);
      },
    },
    controls,
    h('button', { type: 'submit' }, 'Search'),
  );
}

function select(name: string, values: string[], current: string | null, empty = 'any'): HTMLSelectElement {
  return h('select', { name }, h('option', { value: '' }, empty), values.map((v) => h('option', { value: v, ...(v === current ? { selected: true } : {}) }, v)));
}

async function imagesPage(q: URLSearchParams): Promise<Child> {
  const query = { repository: q.get('repository') ?? undefined, tag: q.get('tag') ?? undefined, digest: q.get('digest') ?? undefined, decision: q.get('decision') ?? undefined, after: q.get('after') ?? undefined, limit: PAGE_SIZE };
  const page = await api<{ items: Verdict[]; next?: string }>('images', { query });
  return h(
    'div',
    null,
    h('h1', null, 'Images'),
    filterForm('images', [['repository', 'Repository contains'], ['tag', 'Tag'], ['digest', 'Digest'], ['decision', 'Decision', select('decision', ['allow', 'warn', 'quarantine', 'reject'], q.get('decision'))]], q),
    table(
      'Stored verdicts',
      ['Image', 'Tags', 'Digest', 'Decision', 'Enforcement', 'Judged'],
      page.items.map((v) => [where(v.registry, v.repository), v.tags.join(', ') || '(untagged)', imageLink(v.digest), badge('d', v.decision), v.enforcement ? `${v.enforcement.action} (${v.enforcement.status})` : '—', time(v.evaluatedAt)]),
    ),
    pager('images', q, page.next),
  );
}

async function imagePage(digest: string, sess: Session): Promise<Child> {
  const [verdicts, report, audit, changes] = await Promise.all([
    api<{ items: Verdict[] }>('images', { query: { digest, limit: 100 } }),
    api<Report>(`images/${encodeURIComponent(digest)}`).catch((e) => (e instanceof ApiError && e.status === 404 ? undefined : Promise.reject(e))),
    api<AuditRecord[]>('audit', { query: { digest, limit: 100 } }),
    api<Array<{ at: string; decision: { before: string; after: string }; new: Finding[]; resolved: Finding[] }>>(`images/${encodeURIComponent(digest)}/changes`, { query: { limit: 50 } }),
  ]);
  return h(
    'div',
    null,
    h('h1', null, 'Image ', h('span', { class: 'mono' }, digest)),
    h('h2', null, 'Verdicts'),
    verdicts.items.length ? verdicts.items.map((v) => verdictBlock(v, sess)) : h('p', null, 'No stored verdict for this digest.'),
    h('h2', null, 'Report'),
    report ? reportBlock(report, firedRules(verdicts.items)) : h('p', null, 'No stored report for this digest.'),
    h('h2', null, 'Verdict and enforcement history'),
    table(
      'Audit records of this image',
      ['When', 'Actor', 'Action', 'Where', 'Detail'],
      audit.map((a) => [time(a.at), a.actor, a.action, `${a.repository ?? ''}${a.tag ? `:${a.tag}` : ''}`, detailOf(a.detail)]),
    ),
    changes.length
      ? [h('h2', null, 'Monitor changes'), table('Re-judgements after database or policy changes', ['When', 'Decision', 'New findings', 'Resolved'], changes.map((c) => [time(c.at), `${c.decision.before} → ${c.decision.after}`, c.new.map((f) => f.id).join(', '), c.resolved.map((f) => f.id).join(', ')]))]
      : null,
  );
}

function verdictBlock(v: Verdict, sess: Session): HTMLElement {
  return h(
    'fieldset',
    null,
    h('legend', null, `${where(v.registry, v.repository)} `, badge('d', v.decision)),
    h('p', null, `Tags: ${v.tags.join(', ') || '(untagged)'} · mode ${v.mode} · ${v.complete ? 'complete scan' : 'INCOMPLETE scan'} · policy ${v.policy.name} · judged `, time(v.evaluatedAt)),
    v.enforcement ? h('p', null, `Enforcement: ${v.enforcement.action} (${v.enforcement.status}) — ${v.enforcement.detail}`) : null,
    v.reasons.length ? h('ul', null, v.reasons.map((r) => h('li', null, badge('d', r.action), ` ${r.rule}: ${r.message}`))) : h('p', null, 'No rule fired.'),
    sess.role === 'admin' && (v.decision === 'quarantine' || v.decision === 'reject') ? h('p', null, h('a', { href: link('quarantine', { repository: v.repository }) }, 'Review in the quarantine queue')) : null,
  );
}

const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;

/** `0 critical, 2 high, 5 medium, 1 low (3 fixable)`: counts in words, so they read without colour. */
function summaryText(v: VulnSummary | undefined): string {
  if (!v) return 'not scanned';
  const fixable = SEVERITIES.reduce((n, k) => n + (v.fixable[k] ?? 0), 0);
  return `${SEVERITIES.map((k) => `${v.counts[k] ?? 0} ${k}`).join(', ')} (${fixable} fixable)`;
}

/** The detected base image of each platform and its upgrade candidates, best first (the report's `bases`). */
function basesBlock(bases: BaseImage[]): Child {
  const named = bases.filter((b) => b.method !== 'none');
  if (!named.length) return null;
  return h(
    'div',
    null,
    h('h3', null, 'Base image'),
    named.map((b) => h(
      'section',
      { class: 'base' },
      h('p', null, `${b.platform ? `${b.platform}: ` : ''}${b.repository ? `${b.repository}${b.tags.length ? `:${b.tags.join(', ')}` : ''}` : 'unnamed base'}`, b.digest ? h('span', { class: 'mono' }, ` ${shortDigest(b.digest)}`) : null, ` · found by ${b.method} · ${b.layers.length} layer(s)${b.summary ? ` · ${summaryText(b.summary)}` : ''}`),
      h('p', { class: 'note' }, b.note),
      b.recommendations?.length
        ? table(
          'Recommendations for base image upgrade',
          ['Kind', 'Base image', 'Vulnerabilities', 'Fixes'],
          b.recommendations.map((c) => [c.kind, h('span', null, `${c.repository}:${c.tag} `, h('span', { class: 'mono' }, shortDigest(c.digest))), summaryText(c.summary), c.fixes?.length ? `${c.fixes.length} advisories` : '']),
        )
        : null,
    )),
  );
}

function reportBlock(r: Report, fired: Map<string, string[]>): HTMLElement {
  // The attribution (`origin`, src/base) when the report has one; else the history's base layers.
  const base = new Set(r.bases?.flatMap((b) => (b.method !== 'none' ? b.layers : [])) ?? r.baseLayers ?? []);
  if (!base.size) for (const l of r.baseLayers ?? []) base.add(l);
  const groups = new Map<string, Finding[]>();
  for (const f of r.findings) {
    const k = JSON.stringify([f.ecosystem, f.package, f.installedVersion]);
    groups.set(k, [...(groups.get(k) ?? []), f]);
  }
  const layerOf = (f: Finding) => {
    const l = f.layer;
    if (f.origin) return `${f.origin === 'base' ? 'base image layer' : 'app layer'}${l ? ` ${shortDigest(l)}` : ''}`;
    return !l ? 'layer unknown' : base.size ? `${base.has(l) ? 'base image layer' : 'app layer'} ${shortDigest(l)}` : `layer ${shortDigest(l)}`;
  };
  // Packages in the report's risk order (its findings are sorted: KEV, EPSS, CVSS, severity).
  const pkgs = [...groups.entries()];
  const shown = pkgs.slice(0, 200);
  const inBase = r.findings.filter((f) => (f.origin ? f.origin === 'base' : f.layer && base.has(f.layer))).length;
  return h(
    'div',
    null,
    h('p', null, `${r.packages.length} packages, ${r.findings.length} findings in ${groups.size} packages${r.os ? ` · ${r.os.id} ${r.os.versionId ?? ''}` : ''} · ${r.complete ? 'complete' : 'INCOMPLETE'} · scanned `, time(r.scannedAt)),
    basesBlock(r.bases ?? []),
    base.size
      ? h('p', null, `${inBase} findings in the base image's layers (a newer base image fixes those), ${r.findings.length - inBase} in the layers the image's own build added.`)
      : h('p', { class: 'note' }, 'The image history does not say which layers come from the base image.'),
    shown.map(([k, fs]) => {
      const [eco, name, version] = JSON.parse(k) as [string, string, string];
      return h(
        'section',
        { class: 'pkg' },
        h('h3', null, `${name} ${version} `, h('span', { class: 'note' }, `(${eco}, ${layerOf(fs[0])}, ${fs[0].path})`)),
        table(
          `Findings of ${name} ${version}`,
          ['Advisory', 'Severity', 'Fixed in', 'Summary'],
          fs.map((f) => [
            h(
              'span',
              null,
              h('a', { href: link('vulnerabilities', { id: f.id }) }, f.id),
              f.aliases.length ? h('span', { class: 'note' }, ` (${f.aliases.join(', ')})`) : null,
              fired.has(f.id) ? h('strong', null, ` — fired rule ${fired.get(f.id)!.join(', ')}`) : null,
            ),
            h('span', null, badge('sev', f.severity), f.cvss ? ` ${f.cvss.score}` : '', f.kev ? ' KEV' : ''),
            f.fixedVersions.join(', ') || 'no fix known',
            f.summary ?? '',
          ]),
        ),
      );
    }),
    pkgs.length > shown.length ? h('p', { class: 'note' }, `${pkgs.length - shown.length} more packages with findings: download the full report from /api/v1/images/{digest}.`) : null,
  );
}

/** Finding id → the rules whose reasons name it, over every verdict of the image. */
function firedRules(vs: Verdict[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const v of vs) for (const r of v.reasons) for (const id of r.findings ?? []) out.set(id, [...new Set([...(out.get(id) ?? []), r.rule])]);
  return out;
}

function detailOf(d: Record<string, unknown> | undefined): Child {
  if (!d) return '';
  return h('details', null, h('summary', null, Object.keys(d).slice(0, 4).join(', ')), h('pre', { class: 'mono' }, JSON.stringify(d, null, 2)));
}

async function quarantinePage(q: URLSearchParams, sess: Session): Promise<Child> {
  const state = q.get('state') ?? 'quarantined';
  const rows = await api<QuarantineRecord[]>('quarantine', { query: { state, repository: q.get('repository') ?? undefined, after: q.get('after') ?? undefined, limit: PAGE_SIZE } });
  const reasons = await Promise.all(rows.map((r) => api<{ items: Verdict[] }>('images', { query: { digest: r.digest, registry: r.registry, limit: 10 } }).then((p) => p.items.find((v) => v.repository === r.repository)?.reasons ?? []).catch(() => [] as Reason[])));
  const defaultExpiry = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  return h(
    'div',
    null,
    h('h1', null, 'Quarantine'),
    filterForm('quarantine', [['state', 'State', select('state', ['quarantined', 'released', 'expired'], state, 'quarantined')], ['repository', 'Repository']], q),
    table(
      'Quarantined images',
      ['Quarantined', 'Image', 'Digest', 'Reasons', 'State', ...(sess.role === 'admin' ? ['Action'] : [])],
      rows.map((r, i) => [
        time(r.at),
        where(r.registry, r.repository, r.tag),
        imageLink(r.digest),
        reasons[i].length ? h('ul', null, reasons[i].map((x) => h('li', null, `${x.rule}: ${x.message}`))) : '—',
        r.state,
        ...(sess.role === 'admin' ? [r.state === 'quarantined' ? releaseForm(r, defaultExpiry) : ''] : []),
      ]),
    ),
    pager('quarantine', q, rows.length === PAGE_SIZE ? String(rows[rows.length - 1].id) : undefined),
  );
}

function releaseForm(r: QuarantineRecord, defaultExpiry: string): HTMLElement {
  const id = `rel-${r.id}`;
  const out = h('div', { role: 'status' });
  const form = h(
    'form',
    {
      class: 'actions',
      'aria-label': `Release ${r.repository}:${r.tag}`,
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const fd = new FormData(form);
        const reason = String(fd.get('reason') ?? '').trim();
        const expires = String(fd.get('expires') ?? '');
        if (!reason) return;
        const button = form.querySelector('button')!;
        button.disabled = true;
        try {
          const res = await api<{ exception: { id: number; expires: string } }>('quarantine/release', { method: 'POST', body: { registry: r.registry, repository: r.repository, tag: r.tag, digest: r.digest, reason, ...(expires ? { expires } : {}) } });
          replace(out, `Released; exception ${res.exception.id} until ${res.exception.expires}.`);
          form.replaceWith(out);
        } catch (e) {
          button.disabled = false;
          replace(out, errorBox(e));
        }
      },
    },
    h('label', { for: `${id}-reason` }, 'Reason', h('input', { id: `${id}-reason`, name: 'reason', required: true })),
    h('label', { for: `${id}-expires` }, 'Exception expires', h('input', { id: `${id}-expires`, name: 'expires', type: 'date', value: defaultExpiry })),
    h('button', { type: 'submit' }, 'Release'),
  );
  return h('div', null, form, out);
}

async function exceptionsPage(q: URLSearchParams, sess: Session): Promise<Child> {
  const rows = await api<StoredException[]>('exceptions', { query: { after: q.get('after') ?? undefined, limit: PAGE_SIZE } });
  const out = h('div', { role: 'status' });
  const scope = (e: StoredException) =>
    ['repository', 'digest', 'ids', 'packages', 'rules']
      .filter((k) => e.spec[k] !== undefined)
      .map((k) => `${k}: ${Array.isArray(e.spec[k]) ? (e.spec[k] as unknown[]).join(', ') : String(e.spec[k])}`)
      .join('; ');
  return h(
    'div',
    null,
    h('h1', null, 'Exceptions'),
    table(
      'Exceptions',
      ['Id', 'Owner', 'Reason', 'Scope', 'Expires', 'State', 'Added', ...(sess.role === 'admin' ? ['Action'] : [])],
      rows.map((e) => [
        String(e.id),
        String(e.spec.owner ?? ''),
        String(e.spec.reason ?? ''),
        h('span', { class: 'mono' }, scope(e)),
        time(e.expires.length === 10 ? `${e.expires}T23:59:59.999Z` : e.expires),
        e.revokedAt ? h('span', null, 'revoked by ', e.revokedBy ?? '', ' ', time(e.revokedAt)) : e.expired ? h('strong', { class: 'expired-tag' }, 'EXPIRED') : 'in force',
        h('span', null, e.actor, ' ', time(e.at)),
        ...(sess.role === 'admin' ? [e.revokedAt ? '' : revokeForm(e)] : []),
      ]),
      (i) => (rows[i].expired && !rows[i].revokedAt ? { class: 'expired' } : null),
    ),
    pager('exceptions', q, rows.length === PAGE_SIZE ? String(rows[rows.length - 1].id) : undefined),
    sess.role === 'admin' ? createExceptionForm(out) : h('p', { class: 'note' }, 'Only the admin role adds or revokes exceptions.'),
    out,
  );
}

function revokeForm(e: StoredException): HTMLElement {
  const id = `rev-${e.id}`;
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'actions',
      'aria-label': `Revoke exception ${e.id}`,
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const reason = String(new FormData(form).get('reason') ?? '').trim();
        if (!reason) return;
        try {
          await api(`exceptions/${e.id}/revoke`, { method: 'POST', body: { reason } });
          void render();
        } catch (err) {
          form.append(errorBox(err));
        }
      },
    },
    h('label', { for: `${id}-reason` }, 'Reason', h('input', { id: `${id}-reason`, name: 'reason', required: true })),
    h('button', { type: 'submit', class: 'danger' }, 'Revoke'),
  );
  return form;
}

function createExceptionForm(out: HTMLElement): HTMLElement {
  const list = (v: FormDataEntryValue | null) => String(v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const form: HTMLFormElement = h(
    'form',
    {
      'aria-labelledby': 'new-exc',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const fd = new FormData(form);
        const spec: Record<string, unknown> = { reason: String(fd.get('reason')), owner: String(fd.get('owner')), expires: String(fd.get('expires')) };
        for (const k of ['repository', 'digest']) if (String(fd.get(k) ?? '').trim()) spec[k] = String(fd.get(k)).trim();
        for (const k of ['ids', 'packages', 'rules']) if (list(fd.get(k)).length) spec[k] = list(fd.get(k));
        try {
          const e = await api<StoredException>('exceptions', { method: 'POST', body: spec });
          replace(out, `Exception ${e.id} added.`);
          void render();
        } catch (err) {
          replace(out, errorBox(err));
        }
      },
    },
    h('fieldset', null, h('legend', { id: 'new-exc' }, 'New exception'),
      h('div', { class: 'filters' },
        field('Reason', input('reason', '', { required: true })),
        field('Owner', input('owner', '', { required: true })),
        field('Expires', input('expires', new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10), { type: 'date', required: true })),
        field('Repository (glob)', input('repository')),
        field('Digest', input('digest')),
        field('Advisory ids (comma-separated)', input('ids')),
        field('Packages (comma-separated)', input('packages')),
        field('Rules (comma-separated)', input('rules')),
        h('button', { type: 'submit' }, 'Add exception'))),
  );
  return form;
}

/** The workloads running an image, as text (`namespace/Kind/name`, last seen in the viewer's zone), and how many more there are. */
function workloadsCell(ws: Workload[], count: number): Child {
  if (!ws.length) return count ? `${count} workload(s)` : 'none recorded';
  const more = count - ws.length;
  return h(
    'ul',
    { class: 'workloads' },
    ws.map((w) => h('li', null, `${w.cluster ? `${w.cluster}: ` : ''}${w.namespace}/${w.kind}/${w.name}`, ' (last admitted ', time(w.lastSeen), ')')),
    more > 0 ? h('li', null, `and ${more} more`) : null,
  );
}

async function vulnerabilitiesPage(q: URLSearchParams): Promise<Child> {
  const id = q.get('id');
  const head = [h('h1', null, 'Vulnerabilities'), filterForm('vulnerabilities', [['id', 'Advisory or CVE id']], q)];
  if (!id) return h('div', null, head, h('p', null, 'Enter an advisory id, CVE or GHSA to see the stored images it affects.'));
  const a = await api<Affected>(`vulnerabilities/${encodeURIComponent(id)}/images`, { query: { after: q.get('after') ?? undefined, limit: PAGE_SIZE } });
  return h(
    'div',
    null,
    head,
    a.indexBehind ? h('p', { class: 'note' }, 'Some recent reports are not indexed yet: images only in them may be missing; ask again shortly.') : null,
    table(
      `Images affected by ${id}`,
      ['Image', 'Where', 'Packages', 'Fixed in', 'Severity', 'Workloads'],
      a.images.map((im) => [
        imageLink(im.digest),
        h('ul', null, im.verdicts.map((v) => h('li', null, `${where(v.registry, v.repository, v.tags.join(',') || '(untagged)')} `, badge('d', v.decision)))),
        im.findings.map((f) => `${f.package} ${f.installedVersion}`).join('; '),
        im.findings.map((f) => f.fixedVersions.join(', ') || 'no fix known').join('; '),
        h('span', null, im.findings.map((f) => badge('sev', f.severity))),
        workloadsCell(im.workloads ?? [], im.workloadCount ?? 0),
      ]),
    ),
    pager('vulnerabilities', q, a.more ? a.next : undefined),
  );
}

async function auditPage(q: URLSearchParams): Promise<Child> {
  const filters = ['actor', 'action', 'registry', 'repository', 'digest', 'tag'];
  const query: Record<string, string | number | undefined> = { limit: PAGE_SIZE, after: q.get('after') ?? undefined };
  for (const f of filters) query[f] = q.get(f) ?? undefined;
  const rows = await api<AuditRecord[]>('audit', { query });
  return h(
    'div',
    null,
    h('h1', null, 'Audit'),
    filterForm('audit', filters.map((f) => [f, f[0].toUpperCase() + f.slice(1)] as [string, string]), q),
    table(
      'Audit records',
      ['When', 'Actor', 'Action', 'Image', 'Detail'],
      rows.map((a) => [time(a.at), a.actor, a.action, h('span', null, `${where(a.registry, a.repository, a.tag)} `, a.digest ? imageLink(a.digest) : null), detailOf(a.detail)]),
    ),
    pager('audit', q, rows.length === PAGE_SIZE ? String(rows[rows.length - 1].seq) : undefined),
  );
}

// ---- start ----

setUnauthorizedHandler(() => {
  signOut();
  renderSignIn('The server refused the token: sign in again.');
});
window.addEventListener('hashchange', () => {
  void render().then(() => main().focus());
});
void render();
