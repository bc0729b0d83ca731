/**
 * Base-image attribution for `--exclude-base` (src/scan/base-layers.ts): the final stage of a
 * Dockerfile (dockerfile-ast), the keyword a history entry names (BuildKit and classic builder
 * spellings), and the choice between annotation, Dockerfile and history.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { attributeBase, finalStage, historyKeyword } from '../../../src/scan/base-layers.js';
import { parseDistro } from '../../../src/scan/sbom-input.js';
import { familyOf, OS_TABLE } from '../../../src/core/index.js';
import { guessBaseLayerCount, type HistoryEntry } from '../../../src/scan/config-checks.js';

const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}` as const;

describe('scan: base-image attribution', () => {
  it('finalStage: the last FROM with its ARGs substituted, its instructions (continuations and comments folded), global ARGs left out', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const text = `# syntax=docker/dockerfile:1\nARG BASE=debian\nFROM node:20 AS build\nRUN npm ci\nFROM \${BASE}:12-slim@${digest} AS run\nENV A=1 \\\n    B=2\n# comment\nCOPY --from=build /app /app\nUSER 10001\nCMD ["node", "/app"]\n`;
    const s = finalStage(text);
    expect({ from: s.from, fromLine: s.fromLine, keywords: s.keywords }).to.deep.equal({ from: `debian:12-slim@${digest}`, fromLine: 5, keywords: ['ENV', 'COPY', 'USER', 'CMD'] });
    expect(finalStage(text, { buildArgs: { BASE: 'ubuntu' } }).from).to.equal(`ubuntu:12-slim@${digest}`);
    // A final stage built on another stage: that stage's instructions are the image's history too.
    const chained = finalStage('FROM debian:12 AS base\nRUN apt-get update\nFROM base\nCOPY a /a\n');
    expect({ from: chained.from, fromLine: chained.fromLine, keywords: chained.keywords }).to.deep.equal({ from: 'debian:12', fromLine: 1, keywords: ['RUN', 'COPY'] });
    expect(() => finalStage('RUN true\n')).to.throw(/no FROM/);
  });

  it('historyKeyword reads BuildKit and classic builder entries', () => {
    expect(historyKeyword('RUN /bin/sh -c apt-get update # buildkit')).to.equal('RUN');
    expect(historyKeyword('COPY app /app # buildkit')).to.equal('COPY');
    expect(historyKeyword('/bin/sh -c #(nop)  CMD ["bash"]')).to.equal('CMD');
    expect(historyKeyword('/bin/sh -c #(nop) ADD file:abc in / ')).to.equal('ADD');
    expect(historyKeyword('/bin/sh -c apt-get install -y curl')).to.equal('RUN');
    expect(historyKeyword('|1 VERSION=2 /bin/sh -c make')).to.equal('RUN');
    expect(historyKeyword('buildah commit')).to.equal(undefined);
    expect(historyKeyword(undefined)).to.equal(undefined);
  });

  it('property: with a Dockerfile whose final stage matches the (non-empty) history, the base is exactly the layers above those entries', () => {
    const KW = ['RUN', 'COPY', 'ENV', 'USER', 'WORKDIR', 'LABEL', 'EXPOSE', 'CMD'] as const;
    const layered = (k: string) => k === 'RUN' || k === 'COPY';
    fc.assert(fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), fc.array(fc.constantFrom(...KW), { maxLength: 8 }), (baseEntries, own) => {
      const history = [
        ...baseEntries.map((empty) => (empty ? { created_by: 'ENV X=1', empty_layer: true } : { created_by: 'ADD file:x in /' })),
        ...own.map((k) => ({ created_by: k === 'RUN' ? 'RUN /bin/sh -c true # buildkit' : `${k} x`, ...(layered(k) ? {} : { empty_layer: true }) })),
      ];
      const nBase = baseEntries.filter((e) => !e).length;
      const layers = Array.from({ length: nBase + own.filter(layered).length }, (_, i) => ({ digest: d(i + 1), diffID: d(i + 1) }));
      const stage = { from: 'base', fromLine: 1, keywords: [...own] };
      const r = attributeBase({ history, layers, dockerfile: { file: 'Dockerfile', stage } });
      if (!own.some(layered)) {
        // No layer of the image's own: every layer would be the base's, which is refused.
        expect([r.method, r.layers]).to.deep.equal(['none', []]);
        expect(r.note).to.match(/add no layer/);
        return;
      }
      expect(r.method).to.equal('dockerfile');
      expect(r.layers).to.deep.equal(layers.slice(0, nBase).map((l) => l.diffID));
    }), { numRuns: 200 });
  });

  it('property: attribution never covers every layer, and history attribution is refused whenever history and layers disagree', () => {
    const entry: fc.Arbitrary<HistoryEntry> = fc.oneof(
      fc.constant({ created_by: 'ADD file:x in /' }),
      fc.constant({ created_by: 'RUN true' }),
      fc.constant({ created_by: 'COPY app /app # buildkit' }),
      fc.constant({ created_by: '/bin/sh -c #(nop)  CMD ["bash"]', empty_layer: true }),
      fc.constant({ created_by: 'CMD ["node"]', empty_layer: true }),
      fc.constant({ created_by: 'ENV A=1', empty_layer: true }),
    );
    fc.assert(fc.property(
      fc.array(entry, { maxLength: 10 }),
      fc.integer({ min: 0, max: 8 }),
      fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
      fc.option(fc.array(fc.constantFrom('RUN', 'COPY', 'ENV', 'CMD'), { maxLength: 6 }), { nil: undefined }),
      (history, nLayers, baseLen, keywords) => {
        const layers = Array.from({ length: nLayers }, (_, i) => ({ digest: d(i + 1), diffID: d(i + 1) }));
        // An annotated base that is a prefix of the image's layers when baseLen <= nLayers, else one layer longer.
        const baseDiffIds = baseLen === undefined ? undefined : Array.from({ length: baseLen }, (_, i) => d(i + 1));
        const dockerfile = keywords ? { file: 'Dockerfile', stage: { from: 'b', fromLine: 1, keywords } } : undefined;
        const r = attributeBase({ history, layers, baseDiffIds, dockerfile, annotations: { 'org.opencontainers.image.base.digest': d(9) } });
        expect(r.layers.length).to.be.lessThan(Math.max(nLayers, 1));
        expect(r.layers).to.deep.equal(layers.slice(0, r.layers.length).map((l) => l.diffID));
        if (r.method === 'none') expect(r.layers).to.deep.equal([]);
        const claimed = history.filter((h) => !h.empty_layer).length;
        if (claimed !== nLayers) {
          expect(r.method).to.not.equal('history');
          expect(r.method).to.not.equal('dockerfile');
          expect(guessBaseLayerCount(history, nLayers)).to.equal(undefined);
        }
        // The developer's Dockerfile wins: with one, nothing the image says is used.
        if (dockerfile) expect(r.method).to.be.oneOf(['dockerfile', 'none']);
      },
    ), { numRuns: 500 });
  });

  it('a forged history (more non-empty entries than layers) is refused, with the reason in the note', () => {
    const layers = [1, 2].map((i) => ({ digest: d(i), diffID: d(i + 10) }));
    const history = [{ created_by: 'ADD file:debootstrap in /' }, { created_by: 'COPY app /app' }, { created_by: 'CMD ["node"]', empty_layer: true }, { created_by: 'RUN true' }];
    const r = attributeBase({ history, layers });
    expect([r.method, r.layers]).to.deep.equal(['none', []]);
    expect(r.note).to.match(/3 non-empty entries but the manifest has 2 layer\(s\)/);
    // The same history with a layer per entry: the CMD marks a base of 2 of 3 layers.
    const three = [...layers, { digest: d(3), diffID: d(13) }];
    expect(attributeBase({ history, layers: three }).layers).to.deep.equal([d(11), d(12)]);
    // A history whose CMD sits above every layer would make all of them the base's.
    const all = attributeBase({ history: [{ created_by: 'ADD x in /' }, { created_by: 'RUN a' }, { created_by: 'CMD ["sh"]', empty_layer: true }], layers });
    expect(all.method).to.equal('none');
    expect(all.note).to.match(/marks no base image/);
  });

  it('--file Dockerfile wins over annotations; an annotated base covering every layer is refused', () => {
    const layers = [1, 2, 3].map((i) => ({ digest: d(i), diffID: d(i + 10) }));
    const history = [{ created_by: 'ADD x in /' }, { created_by: 'CMD ["sh"]', empty_layer: true }, { created_by: 'RUN a' }, { created_by: 'COPY b /b' }];
    const annotations = { 'org.opencontainers.image.base.digest': d(9) };
    const stage = { from: 'debian:12', fromLine: 1, keywords: ['RUN', 'COPY'] };
    const f = attributeBase({ history, layers, annotations, baseDiffIds: [d(11), d(12)], dockerfile: { file: 'Dockerfile', stage } });
    expect([f.method, f.layers]).to.deep.equal(['dockerfile', [d(11)]]);
    // A Dockerfile that does not match is refused and the annotation is not asked instead.
    const bad = attributeBase({ history, layers, annotations, baseDiffIds: [d(11), d(12)], dockerfile: { file: 'Dockerfile', stage: { ...stage, keywords: ['COPY', 'RUN'] } } });
    expect([bad.method, bad.layers]).to.deep.equal(['none', []]);
    expect(bad.note).to.match(/not built from this Dockerfile.*not used when --file is given/);
    const full = attributeBase({ history, layers, annotations, baseDiffIds: [d(11), d(12), d(13)] });
    expect(full.method).to.equal('history');
    expect(full.note).to.match(/all 3 layer\(s\) of this image/);
  });

  it('a base manifest read from the source wins when its diff_ids begin the image\'s; otherwise history decides and says why', () => {
    const layers = [1, 2, 3].map((i) => ({ digest: d(i), diffID: d(i + 10) }));
    const history = [{ created_by: 'ADD x in /' }, { created_by: 'CMD ["sh"]', empty_layer: true }, { created_by: 'RUN a' }, { created_by: 'RUN b' }];
    const annotations = { 'org.opencontainers.image.base.name': 'debian:12', 'org.opencontainers.image.base.digest': d(9) };
    const a = attributeBase({ history, layers, annotations, baseDiffIds: [d(11), d(12)] });
    expect([a.method, a.layers]).to.deep.equal(['annotation', [d(11), d(12)]]);
    const b = attributeBase({ history, layers, annotations, baseDiffIds: [d(12)] });
    expect([b.method, b.layers]).to.deep.equal(['history', [d(11)]]);
    expect(b.note).to.match(/base image debian:12@sha256:9+ \(annotations\).*not the first layers of this image/);
    const none = attributeBase({ history: [{ created_by: 'RUN a' }], layers: layers.slice(0, 1) });
    expect([none.method, none.layers]).to.deep.equal(['none', []]);
  });

  it('parseDistro reads syft and trivy spellings of the purl distro qualifier', () => {
    expect(parseDistro('debian-12', 'debian')).to.deep.equal({ id: 'debian', versionId: '12' });
    expect(parseDistro('debian-12.5', 'debian')).to.deep.equal({ id: 'debian', versionId: '12.5' });
    expect(parseDistro('alpine-3.19.1', 'alpine')).to.deep.equal({ id: 'alpine', versionId: '3.19.1' });
    expect(parseDistro('bookworm', 'debian')).to.deep.equal({ id: 'debian', versionId: '12' });
    expect(parseDistro('22.04', 'ubuntu')).to.deep.equal({ id: 'ubuntu', versionId: '22.04' });
    expect(parseDistro('redhat-9.3', 'redhat')).to.deep.equal({ id: 'rhel', versionId: '9.3' });
    expect(parseDistro('someos', undefined)).to.equal(undefined);
  });

  it('parseDistro knows every os-release id of the OS table and trivy\'s family names (property)', () => {
    // trivy's family names as its purl qualifier writes them (pkg/fanal/types/const.go), by os-release ID
    const trivy: Record<string, string> = { redhat: 'rhel', alma: 'almalinux', amazon: 'amzn', oracle: 'ol', 'cbl-mariner': 'mariner', 'opensuse.leap': 'opensuse-leap', 'opensuse.tumbleweed': 'opensuse-tumbleweed', photon: 'photon', azurelinux: 'azurelinux', rocky: 'rocky', sles: 'sles', 'sle-micro': 'sle-micro', wolfi: 'wolfi', chainguard: 'chainguard' };
    const known = OS_TABLE.flatMap((f) => f.ids.map((id) => [id, trivy[id] ?? id] as const));
    fc.assert(
      fc.property(
        fc.constantFrom(...known, ...Object.entries(trivy)),
        fc.stringMatching(/^\d{1,8}(\.\d{1,4}){0,2}$/),
        fc.constantFrom(undefined, 'namespace'),
        ([word, id], version, ns) => {
          const got = parseDistro(`${word}-${version}`, ns);
          expect(got, `${word}-${version}`).to.deep.equal({ id, versionId: version });
          // the id read is one the OS table maps to a family (so the packages are matched as an image scan's)
          expect(familyOf(got!.id)?.ids).to.include(got!.id);
        },
      ),
      { numRuns: 300 },
    );
    // a word that names no family is not guessed at
    for (const d of ['someos-1.0', 'debianx-12', 'x-rhel-9', 'windows-10']) expect(parseDistro(d, undefined), d).to.equal(undefined);
  });
});
