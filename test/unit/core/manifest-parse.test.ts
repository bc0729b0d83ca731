/**
 * The one manifest/index/config reader (src/core/manifest-parse.ts, go-json.ts) against a tiny
 * reference model of Go's encoding/json struct decoding: keys match fields by Unicode simple case
 * folding (ASCII case, K/k/U+212A Kelvin, S/s/U+017F long s), several keys naming one field all
 * assign in order (the last wins; objects merge, arrays are replaced). The property: for any
 * spelling of the keys, pushgate either refuses the document (MANIFEST_INVALID) or reads exactly
 * what Go reads; and it refuses only when two keys of one object name the same field.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { GoDecodeError, goFoldKey, MAX_JSON_DEPTH, parseJsonTree } from '../../../src/core/go-json.js';
import { isAttestationManifest, nonImageArtifactType, parseDockerSaveManifest, parseImageConfig, parseManifestDocument } from '../../../src/core/manifest-parse.js';
import { MediaTypes } from '../../../src/core/manifest.js';
import { isPushgateError } from '../../../src/core/errors.js';

const dg = (c: string) => `sha256:${c.repeat(64)}`;
const OCI = MediaTypes.ociManifest;

function code(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return isPushgateError(e) ? e.code : (e as Error).name;
  }
}

// ---- the reference model of Go's rule, written independently of src/core/go-json.ts -------------

/** Go's simple-fold orbits that reach ASCII letters (unicode.SimpleFold): k K U+212A, s S U+017F; else ASCII case. */
function runeEqualFold(a: string, b: string): boolean {
  if (a === b) return true;
  const orbit = (c: string) => (/^[kK\u212a]$/.test(c) ? 'k' : /^[sS\u017f]$/.test(c) ? 's' : /^[A-Za-z]$/.test(c) ? c.toLowerCase() : c);
  return orbit(a) === orbit(b);
}
function goEqualFold(key: string, field: string): boolean {
  const a = [...key];
  const b = [...field];
  return a.length === b.length && a.every((c, i) => runeEqualFold(c, b[i]!));
}
type Model = { struct: Record<string, Model> } | 'scalar' | { slice: Model } | { map: Model };
const DESC: Model = { struct: { mediaType: 'scalar', digest: 'scalar', size: 'scalar', annotations: { map: 'scalar' } } };
const MANIFEST: Model = { struct: { schemaVersion: 'scalar', mediaType: 'scalar', config: DESC, layers: { slice: DESC }, annotations: { map: 'scalar' } } };
/** json.Unmarshal into an existing value: structs and maps merge, slices and scalars are replaced. */
function goAssign(existing: unknown, value: unknown, m: Model): unknown {
  if (m === 'scalar') return value;
  if ('slice' in m) return (value as unknown[]).map((v) => goAssign(undefined, v, m.slice));
  const out: Record<string, unknown> = { ...((existing as Record<string, unknown>) ?? {}) };
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if ('map' in m) out[k] = goAssign(out[k], v, m.map);
    else {
      const field = Object.keys(m.struct).find((f) => goEqualFold(k, f));
      if (field) out[field] = goAssign(out[field], v, m.struct[field]!);
    }
  }
  return out;
}

// ---- documents as member lists, so keys can repeat -------------------------------------------

type Doc = { members: Array<[string, Doc | Doc[] | string | number]> };
function write(v: Doc | Doc[] | string | number): string {
  if (typeof v === 'string' || typeof v === 'number') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
  return `{${v.members.map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`).join(',')}}`;
}
/** What Go sees: members in order; Go's decoder handles repeats by assigning again. */
function goView(v: Doc | Doc[] | string | number, m: Model): unknown {
  if (typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => goView(x, (m as { slice: Model }).slice));
  let acc: unknown;
  for (const [k, x] of v.members) {
    let sub: Model = 'scalar';
    if (typeof m === 'object' && 'map' in m) sub = m.map;
    else if (typeof m === 'object' && 'struct' in m) sub = Object.entries(m.struct).find(([f]) => goEqualFold(k, f))?.[1] ?? 'scalar';
    const one = { [k]: goView(x, sub) };
    acc = goAssign(acc, one, m);
  }
  return acc ?? {};
}

const spelling = (name: string) =>
  fc.array(fc.nat(9), { minLength: name.length, maxLength: name.length }).map((r) =>
    [...name].map((c, i) => (c === 'k' && r[i] === 9 ? '\u212a' : c === 's' && r[i] === 9 ? '\u017f' : r[i]! % 2 ? c.toUpperCase() : c.toLowerCase())).join(''),
  );
/** One field written 1-3 times, each time with its own spelling and value. */
const field = <T>(name: string, value: fc.Arbitrary<T>, max = 3) => fc.array(fc.tuple(spelling(name), value), { minLength: 1, maxLength: max });
const hex = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', '1', '2');
const descriptor: fc.Arbitrary<Doc> = fc
  .tuple(
    field('mediaType', fc.constantFrom(MediaTypes.ociLayerGzip, MediaTypes.ociLayerTar, 'application/vnd.in-toto+json'), 2),
    field('digest', hex.map(dg), 2),
    field('size', fc.nat(1 << 30), 2),
    fc.option(fc.uniqueArray(spelling('org.example.note'), { maxLength: 3 }), { nil: undefined }),
  )
  .chain(([mt, d, s, notes]) => {
    const members: Array<[string, Doc | string | number]> = [...mt, ...d, ...s];
    if (notes) members.push(['annotations', { members: notes.map((k, i) => [k, `v${i}`]) }]);
    return fc.shuffledSubarray(members, { minLength: members.length, maxLength: members.length }).map((m) => ({ members: m }));
  });
const manifestDoc: fc.Arbitrary<Doc> = fc
  .tuple(
    field('schemaVersion', fc.constant(2), 2),
    field('mediaType', fc.constant(OCI), 2),
    field('config', descriptor.map((d) => ({ members: d.members.map(([k, v]) => (goEqualFold(k, 'mediaType') ? [k, MediaTypes.ociConfig] : [k, v])) }) as Doc), 2),
    field('layers', fc.array(descriptor, { maxLength: 3 }), 3),
    fc.option(fc.constant<[string, string]>(['unrelated', 'x']), { nil: undefined }),
  )
  .chain(([sv, mt, cfg, layers, extra]) => {
    const members: Array<[string, Doc | Doc[] | string | number]> = [...sv, ...mt, ...cfg, ...layers, ...(extra ? [extra] : [])];
    return fc.shuffledSubarray(members, { minLength: members.length, maxLength: members.length }).map((m) => ({ members: m }));
  });

/** True when some object of the document has two keys Go files under the same field (or map key). */
function collides(v: Doc | Doc[] | string | number, m: Model): boolean {
  if (typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some((x) => collides(x, (m as { slice: Model }).slice));
  const isMap = typeof m === 'object' && 'map' in m;
  const keys = v.members.map(([k]) => k);
  for (let i = 0; i < keys.length; i++) for (let j = i + 1; j < keys.length; j++) if (isMap ? keys[i] === keys[j] : goEqualFold(keys[i]!, keys[j]!)) return true;
  return v.members.some(([k, x]) => {
    const sub = isMap ? (m as { map: Model }).map : typeof m === 'object' && 'struct' in m ? Object.entries(m.struct).find(([f]) => goEqualFold(k, f))?.[1] ?? 'scalar' : 'scalar';
    return collides(x, sub);
  });
}

function known(o: Record<string, unknown>, m: Model): unknown {
  if (m === 'scalar' || o === undefined) return o;
  if ('slice' in m) return (o as unknown as unknown[]).map((x) => known(x as Record<string, unknown>, m.slice));
  if ('map' in m) return o;
  const out: Record<string, unknown> = {};
  for (const f of Object.keys(m.struct)) if (o[f] !== undefined) out[f] = known(o[f] as Record<string, unknown>, m.struct[f]!);
  return out;
}

describe('core/manifest-parse: Go-compatible reading of manifests, indexes and configs', () => {
  it('folds keys as Go does: ASCII case, the Kelvin sign and the long s, nothing else', () => {
    expect(goFoldKey('layers')).to.equal(goFoldKey('LAYERS'));
    expect(goFoldKey('layerſ')).to.equal(goFoldKey('layers'));
    expect(goFoldKey('\u212aey')).to.equal(goFoldKey('key'));
    expect(goFoldKey('İmage')).to.not.equal(goFoldKey('image')); // U+0130 is alone in its fold orbit
    expect(goFoldKey('ı')).to.not.equal(goFoldKey('i'));
  });

  it('a single key in any case is read as Go reads it; two keys naming one field are refused, naming both', () => {
    const layer = { mediaType: MediaTypes.ociLayerGzip, digest: dg('2'), size: 3 };
    const cfg = { mediaType: MediaTypes.ociConfig, digest: dg('1'), size: 2 };
    const parsed = parseManifestDocument(JSON.stringify({ SchemaVersion: 2, CONFIG: cfg, layerſ: [layer] }), OCI);
    expect(parsed.kind).to.equal('manifest');
    if (parsed.kind === 'manifest') expect(parsed.manifest.layers).to.deep.equal([layer]);
    const variants: Array<[string, string]> = [
      [`{"schemaVersion":2,"config":${JSON.stringify(cfg)},"layers":[],"Layers":[${JSON.stringify(layer)}]}`, 'Layers'],
      [`{"schemaVersion":2,"config":${JSON.stringify(cfg)},"layers":[],"LAYERS":[${JSON.stringify(layer)}]}`, 'LAYERS'],
      [`{"schemaVersion":2,"config":${JSON.stringify(cfg)},"layers":[],"layerſ":[${JSON.stringify(layer)}]}`, 'layerſ'],
      [`{"schemaVersion":2,"config":${JSON.stringify(cfg)},"layers":[],"layers":[${JSON.stringify(layer)}]}`, 'layers'],
      [`{"schemaVersion":2,"mediaType":"${OCI}","MediaType":"${MediaTypes.ociIndex}","config":${JSON.stringify(cfg)},"layers":[]}`, 'MediaType'],
      [`{"schemaVersion":2,"config":${JSON.stringify(cfg)},"layers":[{"mediaType":"x","digest":"${dg('2')}","Digest":"${dg('3')}","size":3}]}`, 'Digest'],
      [`{"schemaVersion":2,"config":{"mediaType":"${MediaTypes.ociConfig}","digest":"${dg('1')}","size":2,"ſize":9},"layers":[]}`, 'ſize'],
    ];
    for (const [doc, key] of variants) {
      let err: unknown;
      try {
        parseManifestDocument(doc, OCI);
      } catch (e) {
        err = e;
      }
      expect(isPushgateError(err, 'MANIFEST_INVALID'), doc).to.equal(true);
      expect((err as Error).message, doc).to.include(`"${key}"`);
      expect((err as { details?: { key?: string } }).details?.key, doc).to.equal(key);
    }
  });

  it('indexes: manifests/Manifests collide; manifests next to layers is refused; artifactType makes nothing an artefact', () => {
    const child = { mediaType: OCI, digest: dg('4'), size: 5, platform: { os: 'linux', architecture: 'amd64' } };
    expect(code(() => parseManifestDocument(JSON.stringify({ schemaVersion: 2, manifests: [], Manifests: [child] }), MediaTypes.ociIndex))).to.equal('MANIFEST_INVALID');
    expect(code(() => parseManifestDocument(JSON.stringify({ schemaVersion: 2, manifests: [child], Layers: [] }), MediaTypes.ociIndex))).to.equal('MANIFEST_INVALID');
    expect(code(() => parseManifestDocument(JSON.stringify({ schemaVersion: 2, config: { mediaType: MediaTypes.ociConfig, digest: dg('1'), size: 2 }, layers: [], Manifests: [] }), OCI))).to.equal('MANIFEST_INVALID');
    const idx = parseManifestDocument(JSON.stringify({ schemaVersion: 2, artifactType: 'application/spdx+json', MANIFESTS: [child] }), MediaTypes.ociIndex);
    expect(idx.kind).to.equal('index');
    expect(nonImageArtifactType(idx)).to.equal(undefined);
    // the body's mediaType key in another case is read (and must agree with the declared type)
    expect(parseManifestDocument(JSON.stringify({ schemaVersion: 2, MediaType: MediaTypes.ociIndex, manifests: [child] })).mediaType).to.equal(MediaTypes.ociIndex);
    expect(code(() => parseManifestDocument(JSON.stringify({ schemaVersion: 2, MediaType: MediaTypes.ociIndex, manifests: [child] }), OCI))).to.equal('MANIFEST_INVALID');
  });

  it('wrong types are refused with the path: layers not an array, size not an integer, digest not a string, negative size', () => {
    const cfg = `{"mediaType":"${MediaTypes.ociConfig}","digest":"${dg('1')}","size":2}`;
    const cases: Array<[string, RegExp]> = [
      [`{"schemaVersion":2,"config":${cfg},"layers":{}}`, /layers must be an array/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[{"mediaType":"x","digest":"${dg('2')}","size":"3"}]}`, /layers\[0\]\.size must be an integer/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[{"mediaType":"x","digest":"${dg('2')}","size":3.0}]}`, /size must be an integer, not 3\.0/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[{"mediaType":"x","digest":"${dg('2')}","size":3e0}]}`, /size must be an integer, not 3e0/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[{"mediaType":"x","digest":"${dg('2')}","size":-3}]}`, /at least 0/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[{"mediaType":"x","digest":5,"size":3}]}`, /digest must be a string/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[{"mediaType":"x","digest":"${dg('2')}","size":9007199254740993}]}`, /2\^53/],
      [`{"schemaVersion":"2","config":${cfg},"layers":[]}`, /schemaVersion must be an integer/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[],"annotations":{"a":1}}`, /annotations\.a must be a string/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[],"annotations":{"a":"1","a":"2"}}`, /"a" more than once/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[null]}`, /layers\[0\] is null/],
      [`{"schemaVersion":2,"config":${cfg},"layers":[],}`, /not valid JSON/],
    ];
    for (const [doc, re] of cases) expect(() => parseManifestDocument(doc, OCI), doc).to.throw(re).with.property('code', 'MANIFEST_INVALID');
    // map keys are exact in Go: annotations "a" and "A" are two annotations, not a collision
    const ok = parseManifestDocument(`{"schemaVersion":2,"config":${cfg},"layers":[],"annotations":{"a":"1","A":"2"}}`, OCI);
    expect(ok.kind === 'manifest' && ok.manifest.annotations).to.deep.equal({ a: '1', A: '2' });
  });

  it('image configs: Env/env and config/Config collide, Cmd as a string and Env with numbers are refused; Docker nulls are absent', () => {
    const bad: Array<[string, string]> = [
      ['{"config":{"Env":["A=1"],"env":["A=2"]}}', 'env'],
      ['{"config":{"User":"app"},"Config":{"User":"root"}}', 'Config'],
      ['{"config":{"User":"app","user":"root"}}', 'user'],
      ['{"rootfs":{"type":"layers","diff_ids":[],"DIFF_IDS":["x"]}}', 'DIFF_IDS'],
      ['{"history":[{"created_by":"a","Created_By":"b"}]}', 'Created_By'],
    ];
    for (const [doc, key] of bad) {
      let err: unknown;
      try { parseImageConfig(doc); } catch (e) { err = e; }
      expect(isPushgateError(err, 'MANIFEST_INVALID'), doc).to.equal(true);
      expect((err as { details?: { key?: string } }).details?.key, doc).to.equal(key);
    }
    expect(code(() => parseImageConfig('{"config":{"Cmd":"sh -c x"}}'))).to.equal('MANIFEST_INVALID');
    expect(code(() => parseImageConfig('{"config":{"Env":[1]}}'))).to.equal('MANIFEST_INVALID');
    expect(code(() => parseImageConfig('{"config":{"Labels":{"a":true}}}'))).to.equal('MANIFEST_INVALID');
    const c = parseImageConfig('{"Architecture":"amd64","OS":"linux","CONFIG":{"user":"app","ENV":["A=1"],"Cmd":null,"Labels":null},"RootFS":{"Type":"layers","Diff_IDs":["sha256:x"]}}');
    expect(c).to.deep.include({ architecture: 'amd64', os: 'linux' });
    expect(c.config).to.deep.equal({ User: 'app', Env: ['A=1'] });
    expect(c.rootfs).to.deep.equal({ type: 'layers', diff_ids: ['sha256:x'] });
  });

  it('docker save manifest.json is read as docker load reads it: Layers/layers collide', () => {
    expect(parseDockerSaveManifest('[{"config":"c.json","REPOTAGS":["a:1"],"layers":["l.tar"]}]')).to.deep.equal([{ Config: 'c.json', RepoTags: ['a:1'], Layers: ['l.tar'] }]);
    expect(code(() => parseDockerSaveManifest('[{"Config":"c.json","Layers":[],"layers":["l.tar"]}]'))).to.equal('MANIFEST_INVALID');
    expect(code(() => parseDockerSaveManifest('[{"Config":"c.json"}]'))).to.equal('MANIFEST_INVALID');
  });

  it('attestation manifests are told by their layers, never by annotations', () => {
    const m = (layers: string[]) => ({ schemaVersion: 2 as const, config: { mediaType: MediaTypes.ociConfig, digest: dg('1'), size: 2 }, layers: layers.map((mediaType) => ({ mediaType, digest: dg('2'), size: 3 })) });
    expect(isAttestationManifest(m(['application/vnd.in-toto+json']))).to.equal(true);
    expect(isAttestationManifest(m(['application/vnd.in-toto+json', MediaTypes.ociLayerGzip]))).to.equal(false);
    expect(isAttestationManifest(m([]))).to.equal(false);
    expect(isAttestationManifest({ ...m([MediaTypes.ociLayerGzip]), annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } })).to.equal(false);
  });

  it('property: any key spelling and repetition is refused or read exactly as Go reads it; refused only on a real collision', () => {
    fc.assert(
      fc.property(manifestDoc, (doc) => {
        const text = write(doc);
        const expected = goView(doc, MANIFEST) as Record<string, unknown>;
        const clash = collides(doc, MANIFEST);
        let got;
        try {
          got = parseManifestDocument(text, OCI);
        } catch (e) {
          if (!isPushgateError(e, 'MANIFEST_INVALID')) throw e;
          // refusing is only right when Go's reading depends on the order of repeated keys
          expect(clash, `${text}: ${(e as Error).message}`).to.equal(true);
          return;
        }
        expect(clash, `accepted a colliding document: ${text}`).to.equal(false);
        expect(got.kind).to.equal('manifest');
        if (got.kind === 'manifest') expect(known(got.manifest as unknown as Record<string, unknown>, MANIFEST), text).to.deep.equal(known(expected, MANIFEST));
      }),
      { numRuns: 400 },
    );
  });

  it('property: the tree parser reads every JSON.stringify output as JSON.parse does (no duplicates there)', () => {
    const toPlain = (n: ReturnType<typeof parseJsonTree>): unknown =>
      n.t === 'object' ? Object.fromEntries(n.members.map(([k, v]) => [k, toPlain(v)])) : n.t === 'array' ? n.items.map(toPlain) : n.t === 'number' ? Number(n.raw) : n.t === 'null' ? null : n.v;
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const text = JSON.stringify(v);
      expect(toPlain(parseJsonTree(text))).to.deep.equal(JSON.parse(text));
    }), { numRuns: 300 });
    for (const bad of ['{"a":1,}', '[1,]', '01', '{"a" 1}', '"\u0001"', 'nul', '1 2', "{'a':1}", '[1] x']) {
      expect(() => parseJsonTree(bad), bad).to.throw(GoDecodeError);
    }
  });

  it('property: a value inside up to MAX_JSON_DEPTH arrays and objects is read as JSON.parse reads it; one deeper is refused naming the limit', () => {
    const toPlain = (n: ReturnType<typeof parseJsonTree>): unknown =>
      n.t === 'object' ? Object.fromEntries(n.members.map(([k, v]) => [k, toPlain(v)])) : n.t === 'array' ? n.items.map(toPlain) : n.t === 'number' ? Number(n.raw) : n.t === 'null' ? null : n.v;
    /** Arrays and objects around the deepest value of `v`. */
    const nesting = (v: unknown): number => {
      const kids = Array.isArray(v) ? v : v !== null && typeof v === 'object' ? Object.values(v) : [];
      return kids.length ? 1 + Math.max(...kids.map(nesting)) : 0;
    };
    // fc.jsonValue() nests a few levels at most: wrappers (a short pattern of arrays and objects,
    // repeated) take a small value to the limit, a third of them to 255-258.
    const wrappers = fc.oneof({ weight: 2, arbitrary: fc.integer({ min: 0, max: MAX_JSON_DEPTH + 40 }) }, fc.constantFrom(MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, MAX_JSON_DEPTH + 2));
    fc.assert(fc.property(wrappers, fc.array(fc.constantFrom('array', 'object'), { minLength: 1, maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), (n, pattern, leaf) => {
      let v: unknown = leaf;
      for (let i = 0; i < n; i++) v = pattern[i % pattern.length] === 'array' ? [v] : { k: v };
      const text = JSON.stringify(v);
      if (n + nesting(leaf) > MAX_JSON_DEPTH) expect(() => parseJsonTree(text)).to.throw(GoDecodeError, `nesting deeper than ${MAX_JSON_DEPTH}`);
      // As text: chai's deep equality is slow on values 250 levels deep.
      else expect(JSON.stringify(toPlain(parseJsonTree(text)))).to.equal(JSON.stringify(JSON.parse(text)));
    }), { numRuns: 100 });
  });
});
