/**
 * Which image an image is built on, strongest evidence first. Everything an image says about itself
 * (annotations, labels, attestations, history) is written by its author, so a named base is accepted
 * only when the base's own diffID chain, as the catalog read it from the registry, is a proper prefix of
 * the image's diffIDs; a claim that fails the check is refused with a diagnostic and the next method is
 * tried:
 *
 * 1. `annotation`: `org.opencontainers.image.base.digest` (image-spec annotations.md; manifest annotation,
 *    else config label) names a catalog image (or index); without a digest, `org.opencontainers.image.base.name`
 *    names a catalog repository and tag.
 * 2. `provenance`: a BuildKit SLSA provenance attestation in the index (materials, v0.2; resolvedDependencies,
 *    v1) names `pkg:docker/…@…` images with digests; the catalog image among them whose chain is a prefix wins.
 * 3. `chain`: the catalog image whose whole diffID chain is the longest proper prefix of the image's.
 * 4. `history`: the image config's history (src/scan/config-checks.ts baseFromHistory): layers only, no name.
 */
import type { BaseImage, Digest } from '../core/index.js';
import { baseFromHistory, type HistoryEntry } from '../scan/config-checks.js';
import { isProperPrefix, type ChainIndex } from './chain.js';
import type { CatalogEntry } from './types.js';

/** The annotation naming the base image (image-spec annotations.md). */
export const BASE_NAME = 'org.opencontainers.image.base.name';
/** The annotation naming the base image's manifest digest. */
export const BASE_DIGEST = 'org.opencontainers.image.base.digest';

/** What detection needs of the catalog (src/base/catalog.ts implements it). */
export interface CatalogView {
  readonly index: ChainIndex;
  /** Entries whose manifest digest, or index digest, is `digest`. */
  byDigest(digest: string): CatalogEntry[];
  /** Entries of `repository` (any configured catalog registry) a tag `tag` has pointed at. */
  byName(repository: string, tag: string): CatalogEntry[];
  /** Tags that point, or pointed, at the entry (its digest or its index), sorted. */
  tagsOf(e: CatalogEntry): string[];
}

/** One material of a provenance attestation: a package URL and its digests. */
export interface ProvenanceMaterial {
  uri: string;
  digest?: Record<string, string>;
}

/** What {@link detectBase} is told about one image manifest. */
export interface DetectInput {
  platform?: string;
  /** The manifest's layers with their diffIDs (from the config), lowest first. */
  layers: Array<{ digest: Digest; diffID?: Digest }>;
  /** Manifest annotations merged over config labels. */
  annotations?: Record<string, string>;
  /** Materials of the index's provenance attestation for this manifest, when there is one. */
  provenance?: ProvenanceMaterial[];
  history?: HistoryEntry[];
}

/** The result: the base (method `none` when nothing was found) and the diagnostics of refused evidence. */
export interface Detection {
  base: BaseImage;
  /** Refused claims (`base-annotation-refused`, `base-provenance-refused`), one sentence each. */
  refused: Array<{ code: string; message: string }>;
}

/** Splits `repo:tag` (a registry host, when named, is dropped: catalogs are matched by repository). */
function nameParts(name: string): { repository: string; tag?: string } {
  const at = name.indexOf('@');
  const bare = at >= 0 ? name.slice(0, at) : name;
  const slash = bare.lastIndexOf('/');
  const colon = bare.lastIndexOf(':');
  const tag = colon > slash ? bare.slice(colon + 1) : undefined;
  let repo = colon > slash ? bare.slice(0, colon) : bare;
  const first = repo.split('/')[0];
  // The first component is a registry host when it has a dot or a port, or is localhost (distribution/reference).
  if (repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) repo = repo.slice(first.length + 1);
  return { repository: repo, tag };
}

/** The image name of a `pkg:docker/…` material (`pkg:docker/lab/debian@12?platform=…`), with its tag. */
function dockerPurl(uri: string): { repository: string; tag?: string } | undefined {
  if (!uri.startsWith('pkg:docker/')) return undefined;
  const rest = decodeURIComponent(uri.slice('pkg:docker/'.length).split('?')[0]);
  const at = rest.lastIndexOf('@');
  return at >= 0 ? { repository: rest.slice(0, at), tag: rest.slice(at + 1) } : { repository: rest };
}

/**
 * Picks the catalog entry among `cands` with the longest chain that is a proper prefix of `ids`
 * (several platforms of one index: the one of this image's platform matches).
 */
function bestPrefix(cands: CatalogEntry[], ids: Digest[]): CatalogEntry | undefined {
  let best: CatalogEntry | undefined;
  for (const c of cands) if (isProperPrefix(c.diffIDs, ids) && (!best || c.diffIDs.length > best.diffIDs.length)) best = c;
  return best;
}

/** The digests of a material, as `sha256:…`. */
function materialDigests(m: ProvenanceMaterial): string[] {
  return Object.entries(m.digest ?? {}).filter(([, v]) => typeof v === 'string').map(([alg, v]) => `${alg}:${v}`);
}

/**
 * Detects the base of one image manifest (see the module comment). Never throws.
 * @returns the base with `method`, the base's repository, tags and digest where named, and its layers.
 */
export function detectBase(input: DetectInput, catalog: CatalogView): Detection {
  const refused: Detection['refused'] = [];
  const ids = input.layers.map((l) => l.diffID);
  const haveIds = ids.every((d): d is Digest => typeof d === 'string');
  const diffIDs = haveIds ? (ids as Digest[]) : [];
  const total = input.layers.length;
  const plat = input.platform ? { platform: input.platform } : {};
  const named = (e: CatalogEntry, method: BaseImage['method'], note: string): Detection => ({
    base: { ...plat, method, registry: e.registry, repository: e.repository, tags: catalog.tagsOf(e), digest: e.digest, layers: e.diffIDs.slice(), note, ...(e.created ? { created: e.created } : {}), ...(e.summary ? { summary: e.summary } : {}) },
    refused,
  });
  const ref = (e: CatalogEntry) => {
    const tags = catalog.tagsOf(e);
    return `${e.repository}${tags.length ? `:${tags.join(',')}` : ''}@${e.digest}`;
  };
  const why = () => (refused.length ? `; refused: ${refused.map((r) => r.message).join('; ')}` : '');
  // A claim may choose among catalog images of the chain the layers prove, never a shorter one: naming the
  // base's own base would have the image judged (allowed, upToDate, maxAge) on a base it is not built on.
  const longest = diffIDs.length ? catalog.index.longestPrefix(diffIDs)?.length ?? 0 : 0;

  // 1. annotations
  const annName = input.annotations?.[BASE_NAME];
  const annDigest = input.annotations?.[BASE_DIGEST];
  if (annDigest || annName) {
    const claim = `${annName ?? '(unnamed)'}${annDigest ? `@${annDigest}` : ''}`;
    let cands: CatalogEntry[] = [];
    if (annDigest) cands = catalog.byDigest(annDigest);
    else if (annName) {
      const p = nameParts(annName);
      cands = p.tag ? catalog.byName(p.repository, p.tag) : [];
    }
    if (!diffIDs.length) refused.push({ code: 'base-annotation-refused', message: `annotated base ${claim}: the image config lists no diffIDs to check it against` });
    else if (!cands.length) refused.push({ code: 'base-annotation-refused', message: `annotated base ${claim} is not in the base catalog, so its layers cannot be checked` });
    else {
      const hit = bestPrefix(cands, diffIDs);
      if (hit && hit.diffIDs.length < longest) refused.push({ code: 'base-annotation-refused', message: `annotated base ${claim}: a longer catalog image (${longest} layers, not ${hit.diffIDs.length}) begins this image, so the annotation names the base's own base and was not used` });
      else if (hit) return named(hit, 'annotation', `base ${ref(hit)} named by annotation ${annDigest ? BASE_DIGEST : BASE_NAME}; its ${hit.diffIDs.length} layer(s) are the first ${hit.diffIDs.length} of ${total} (method: annotation)`);
      else refused.push({ code: 'base-annotation-refused', message: `annotated base ${claim}: its layers are not the first layers of this image (or are all of them); the annotation is the image author's word and was not used` });
    }
  }

  // 2. provenance attestation
  if (input.provenance?.length && diffIDs.length) {
    const images = input.provenance.filter((m) => dockerPurl(m.uri));
    const cands = images.flatMap((m) => materialDigests(m).flatMap((d) => catalog.byDigest(d)));
    const found = bestPrefix(cands, diffIDs);
    const hit = found && found.diffIDs.length >= longest ? found : undefined;
    if (hit) return named(hit, 'provenance', `base ${ref(hit)} named by the image's provenance attestation (materials); its ${hit.diffIDs.length} layer(s) are the first ${hit.diffIDs.length} of ${total} (method: provenance)`);
    if (images.length) {
      refused.push({
        code: 'base-provenance-refused',
        message: `provenance materials ${images.map((m) => m.uri).join(', ')}: ${found ? `a longer catalog image (${longest} layers, not ${found.diffIDs.length}) begins this image` : cands.length ? 'no catalog image named there has layers that begin this image' : 'none is in the base catalog'}`,
      });
    }
  }

  // 3. longest catalog chain
  if (diffIDs.length) {
    const m = catalog.index.longestPrefix(diffIDs);
    if (m) {
      // Several catalog images with one chain (a re-push, other compression): the one a tag names now, else the newest.
      const pick = m.entries.length === 1 ? m.entries[0] : [...m.entries].sort((a, b) => catalog.tagsOf(b).length - catalog.tagsOf(a).length || b.firstSeen - a.firstSeen || a.digest.localeCompare(b.digest))[0];
      return named(pick, 'chain', `base ${ref(pick)}: its ${m.length} layer(s) are the first ${m.length} of ${total} by diffID chain (method: chain)${why()}`);
    }
  }

  // 4. history
  const guess = baseFromHistory(input.history, total);
  if ('count' in guess) {
    return {
      base: { ...plat, method: 'history', tags: [], layers: input.layers.slice(0, guess.count).map((l) => l.diffID ?? l.digest), note: `the first ${guess.count} of ${total} layer(s) are the base's, guessed from the image history (the base's last CMD entry; method: history); the base is not in the catalog${why()}` },
      refused,
    };
  }
  return { base: { ...plat, method: 'none', tags: [], layers: [], note: `no base image found: no catalog image's layers begin this image, and ${guess.refused}${why()}` }, refused };
}

/**
 * The materials of a provenance attestation's in-toto statement (SLSA provenance v0.2 `predicate.materials`,
 * v1 `predicate.buildDefinition.resolvedDependencies`; BuildKit writes one per platform). Unknown shapes give [].
 */
export function provenanceMaterials(statement: unknown): ProvenanceMaterial[] {
  const s = statement as { predicate?: { materials?: unknown; buildDefinition?: { resolvedDependencies?: unknown } } } | null;
  const list = s?.predicate?.materials ?? s?.predicate?.buildDefinition?.resolvedDependencies;
  if (!Array.isArray(list)) return [];
  return list.filter((m): m is ProvenanceMaterial => !!m && typeof (m as ProvenanceMaterial).uri === 'string')
    .map((m) => ({ uri: m.uri, ...(m.digest && typeof m.digest === 'object' ? { digest: m.digest } : {}) }));
}
