/**
 * The final stage's base image of a Dockerfile (src/scan/dockerfile-base.ts): global ARG substitution
 * with `--build-arg` values, stage chains, `--platform`, `--target`, `scratch`, the `latest` and
 * untagged flags, refusals of what a build could read two ways, and the comparison with a detected base.
 * The property test generates multi-stage Dockerfiles with ARG chains and checks them against a
 * reference resolver that works on the generated model, not on the text.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { PushgateError } from '../../../src/core/index.js';
import { compareDockerfileBase, parseBuildArgs, resolveDockerfileBase, type DockerfileBase } from '../../../src/scan/dockerfile-base.js';
import { ROOT } from '../../helpers/lab.js';
import { dockerfileBaseDiagnostics } from '../../../src/cli/scan-options.js';
import { finalStage } from '../../../src/scan/base-layers.js';
import type { BaseImage } from '../../../src/core/index.js';

const DIGEST = `sha256:${'c0'.repeat(32)}`;

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(PushgateError);
    expect((e as PushgateError).code).to.equal('BAD_ARGUMENT');
    return (e as Error).message;
  }
  throw new Error('expected a BAD_ARGUMENT refusal');
}

describe('scan: the base image of a Dockerfile (final stage)', () => {
  it('the lab app\'s Dockerfile: global ARG chain, a named base stage and a build stage resolve to lab/debian:12', () => {
    const text = fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'base', 'Dockerfile'), 'utf8');
    const b = resolveDockerfileBase(text);
    expect(b.reference).to.equal('lab/debian:12');
    expect(b.ref).to.include({ registry: 'docker.io', repository: 'lab/debian', tag: '12' });
    expect(b.ref?.digest).to.equal(undefined);
    expect(b.explicitRegistry).to.equal(false);
    expect(b.stages.map((s) => s.name ?? s.index)).to.deep.equal(['runtime', 2]);
    expect(b.keywords).to.deep.equal(['LABEL', 'COPY', 'COPY', 'RUN', 'USER', 'WORKDIR', 'CMD']);
    expect(b.flags).to.deep.equal([]);
    // --build-arg values replace the defaults, and later defaults see them.
    expect(resolveDockerfileBase(text, { buildArgs: { DEBIAN_TAG: '12-slim' } }).reference).to.equal('lab/debian:12-slim');
    expect(resolveDockerfileBase(text, { buildArgs: { BASE: '127.0.0.1:5000/lab/debian:12.9' } })).to.include({ reference: '127.0.0.1:5000/lab/debian:12.9', explicitRegistry: true });
    // --target picks the build stage, which has its own instructions on the same base.
    expect(resolveDockerfileBase(text, { target: 'BUILD' }).keywords).to.deep.equal(['RUN']);
  });

  it('global ARGs: defaults use earlier ARGs, several per line, quotes; --build-arg for an undeclared ARG is ignored; stage ARGs are not seen by FROM', () => {
    expect(resolveDockerfileBase('ARG REG=registry.local:5000 REPO="team/app"\nARG IMG=${REG}/${REPO}\nFROM $IMG:1.2').reference).to.equal('registry.local:5000/team/app:1.2');
    expect(resolveDockerfileBase("ARG T='1.0'\nFROM \"app:${T}\"").reference).to.equal('app:1.0');
    expect(resolveDockerfileBase('ARG T=1\nFROM app:$T', { buildArgs: { OTHER: 'x' } }).reference).to.equal('app:1');
    expect(resolveDockerfileBase('ARG U\nARG T=${U:-12}\nFROM debian:$T').reference).to.equal('debian:12');
    expect(resolveDockerfileBase('ARG U\nARG T=${U:-12}\nFROM debian:$T', { buildArgs: { U: '11' } }).reference).to.equal('debian:11');
    expect(resolveDockerfileBase('ARG V=12\nFROM debian:${V:+bookworm}').reference).to.equal('debian:bookworm');
    expect(refusal(() => resolveDockerfileBase('FROM debian:12 AS a\nARG T=13\nFROM debian:$T'))).to.match(/line 3: .*no ARG before the first FROM declares/);
  });

  it('refuses a base that depends on a value not given, with what to pass', () => {
    expect(refusal(() => resolveDockerfileBase('ARG TAG\nFROM debian:${TAG}'))).to.match(/line 2: .*TAG, which has no default and no --build-arg value.*--build-arg TAG=<value>/);
    expect(resolveDockerfileBase('ARG TAG\nFROM debian:${TAG}', { buildArgs: { TAG: '12' } }).reference).to.equal('debian:12');
    expect(refusal(() => resolveDockerfileBase('FROM debian:$TAG'))).to.match(/declare it with ARG TAG=<value> before the first FROM/);
    expect(refusal(() => resolveDockerfileBase('ARG T\nFROM debian:${T:?required}'))).to.match(/T is not set \(required\); pass --build-arg T=<value>/);
    expect(refusal(() => resolveDockerfileBase('ARG T=12.1\nFROM debian:${T%.*}'))).to.match(/not supported here/);
    expect(refusal(() => resolveDockerfileBase('FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nFROM b'))).to.match(/pass --platform os\/arch/);
    expect(refusal(() => resolveDockerfileBase('ARG E=\nFROM $E'))).to.match(/empty after substitution/);
    expect(refusal(() => resolveDockerfileBase('ARG T=12\nFROM debian:${T'))).to.match(/without its closing/);
  });

  it('stages: names are case-insensitive, a chain is followed, a stage named like its image names the image, later or duplicate stages are refused', () => {
    const b = resolveDockerfileBase('FROM alpine:3.20 AS Base\nRUN apk add curl\nFROM BASE AS mid\nENV A=1\nFROM node:20 AS other\nFROM Mid\nCOPY . /app\n');
    expect(b.reference).to.equal('alpine:3.20');
    expect(b.line).to.equal(1);
    expect(b.stages).to.deep.equal([{ name: 'base', index: 0, line: 1 }, { name: 'mid', index: 1, line: 3 }, { index: 3, line: 6 }]);
    expect(b.keywords).to.deep.equal(['RUN', 'ENV', 'COPY']);
    expect(resolveDockerfileBase('FROM debian:12 AS debian\nFROM debian').reference).to.equal('debian:12');
    expect(resolveDockerfileBase('FROM golang AS golang').reference).to.equal('golang');
    expect(refusal(() => resolveDockerfileBase('FROM later AS x\nFROM debian:12 AS later\nFROM x'))).to.match(/line 1: FROM later names stage "later", defined later, at line 2/);
    expect(refusal(() => resolveDockerfileBase('FROM a:1 AS x\nFROM b:1 AS X'))).to.match(/used twice/);
    expect(refusal(() => resolveDockerfileBase('FROM a:1 AS scratch'))).to.match(/reserved/);
    expect(refusal(() => resolveDockerfileBase('FROM a:1', { target: 'nope' }))).to.match(/--target nope: no such stage/);
    expect(resolveDockerfileBase('FROM a:1\nFROM b:2', { target: '0' }).reference).to.equal('a:1');
  });

  it('--platform is substituted; scratch has no base; latest and untagged bases are flagged, digests are not', () => {
    const p = resolveDockerfileBase('ARG P=linux/arm64\nFROM --platform=$P debian:12');
    expect(p.platform).to.equal('linux/arm64');
    expect(resolveDockerfileBase('FROM --platform=$TARGETPLATFORM debian:12', { platform: 'linux/amd64' }).platform).to.equal('linux/amd64');
    expect(resolveDockerfileBase('FROM debian-${TARGETARCH}:12', { platform: 'linux/arm64/v8' }).reference).to.equal('debian-arm64:12');
    const s = resolveDockerfileBase('FROM golang:1.22 AS build\nRUN go build\nFROM scratch\nCOPY --from=build /x /x\n');
    expect(s).to.include({ reference: 'scratch', scratch: true });
    expect(s.ref).to.equal(undefined);
    expect(s.keywords).to.deep.equal(['COPY']);
    expect(resolveDockerfileBase('FROM debian:latest').flags.map((f) => f.kind)).to.deep.equal(['latest']);
    const u = resolveDockerfileBase('ARG R=debian\nFROM $R');
    expect(u.flags.map((f) => f.kind)).to.deep.equal(['untagged']);
    expect(u.flags[0].message).to.match(/line 2: FROM debian has no tag/);
    expect(resolveDockerfileBase(`FROM debian@${DIGEST}`).flags).to.deep.equal([]);
    expect(resolveDockerfileBase(`FROM debian:latest@${DIGEST}`).flags).to.deep.equal([]);
  });

  it('refuses malformed FROM lines and references, and honours the escape directive', () => {
    expect(refusal(() => resolveDockerfileBase('RUN true'))).to.match(/no FROM/);
    expect(refusal(() => resolveDockerfileBase('ENV A=1\nFROM debian:12'))).to.match(/line 1: ENV before the first FROM/);
    expect(refusal(() => resolveDockerfileBase('FROM debian 12'))).to.match(/write FROM \[--platform=…\] <image> \[AS <name>\]/);
    expect(refusal(() => resolveDockerfileBase('FROM --chown=1 debian:12'))).to.match(/FROM takes only --platform/);
    expect(refusal(() => resolveDockerfileBase('FROM Debian:12'))).to.match(/must be lower case/);
    expect(refusal(() => resolveDockerfileBase("ARG T=12\nFROM 'debian:$T'"))).to.match(/line 2: FROM debian:\$T/);
    expect(refusal(() => resolveDockerfileBase('FROM debian@sha256:abc'))).to.match(/not a sha256 digest/);
    // The escape character quotes `$`: the tag is then the text "$T", which no reference allows.
    expect(resolveDockerfileBase('# escape=`\nARG T=12\nFROM debian:$T').reference).to.equal('debian:12');
    expect(refusal(() => resolveDockerfileBase('# escape=`\nARG T=12\nFROM debian:`$T'))).to.match(/bad tag "\$T"/);
    expect(refusal(() => resolveDockerfileBase('ARG T=12\nFROM debian:\\$T'))).to.match(/bad tag "\$T"/);
  });

  it('compareDockerfileBase: warns on another repository, tag or pinned digest, and on scratch with a detected base', () => {
    const df = (t: string): DockerfileBase => resolveDockerfileBase(t);
    expect(compareDockerfileBase(df('FROM lab/debian:12'), { reference: '127.0.0.1:5000/lab/debian:12', method: 'chain match' })).to.deep.equal([]);
    expect(compareDockerfileBase(df('FROM debian:12'), { reference: 'docker.io/library/debian:12' })).to.deep.equal([]);
    expect(compareDockerfileBase(df('FROM lab/debian:12'), undefined)).to.deep.equal([]);
    const other = compareDockerfileBase(df('FROM lab/debian:12'), { reference: '127.0.0.1:5000/lab/alpine:3', method: 'annotations' });
    expect(other).to.have.length(1);
    expect(other[0]).to.match(/line 1\) is lab\/debian:12, but the image is built on 127\.0\.0\.1:5000\/lab\/alpine:3 \(found by annotations\)/);
    expect(compareDockerfileBase(df('FROM registry.a:5000/lab/debian:12'), { reference: 'registry.b:5000/lab/debian:12' })).to.have.length(1);
    expect(compareDockerfileBase(df('FROM lab/debian:12'), { reference: '127.0.0.1:5000/lab/debian:12-slim' })[0]).to.match(/another tag of the same repository/);
    expect(compareDockerfileBase(df(`FROM lab/debian:12@${DIGEST}`), { reference: 'r.io/lab/debian:12', digest: `sha256:${'d1'.repeat(32)}` })[0]).to.match(/pins sha256:c0c0.*not built from this Dockerfile's base/);
    expect(compareDockerfileBase(df(`FROM lab/debian:12@${DIGEST}`), { digest: DIGEST })).to.deep.equal([]);
    expect(compareDockerfileBase(df('FROM scratch'), { reference: 'r.io/lab/debian:12' })[0]).to.match(/is scratch, but/);
  });

  it('parseBuildArgs takes NAME=value (value may hold =) and NAME from the environment', () => {
    expect(parseBuildArgs(['A=1', 'B=x=y', 'C='], {})).to.deep.equal({ A: '1', B: 'x=y', C: '' });
    expect(parseBuildArgs(['HOME_TAG'], { HOME_TAG: '12' })).to.deep.equal({ HOME_TAG: '12' });
    expect(refusal(() => parseBuildArgs(['MISSING'], {}))).to.match(/no value given and no environment variable MISSING/);
    expect(refusal(() => parseBuildArgs(['1A=x'], {}))).to.match(/not a variable name/);
  });
});

// ---------------------------------------------------------------- property: generated Dockerfiles

/** A piece of an image word: literal text or a reference to a global ARG in one of the lexer's spellings. */
type Piece = { lit: string } | { arg: string; style: 'bare' | 'braced' | 'default' | 'alt' | 'dash' | 'plus' };
interface GlobalArg {
  name: string;
  /** Default: literal pieces and references to earlier args; undefined = declared without one. */
  def?: Piece[];
}
interface GenStage {
  /** Either an image word (repository pieces, tag pieces) or a reference to an earlier stage. */
  from: { repo: Piece[]; tag: Piece[]; quoted: boolean } | { stage: number; upper: boolean };
  named: boolean;
  instructions: string[];
}
interface Model {
  args: GlobalArg[];
  /** Index into args of those declared on the same line as the previous one. */
  joined: boolean[];
  buildArgs: Record<string, string>;
  stages: GenStage[];
}

const VALUE = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/);
const KEYWORDS = ['RUN true', 'COPY a /a', 'ENV X=1', 'USER 1000', 'LABEL a=b', 'WORKDIR /w', 'CMD ["sh"]', 'ARG LOCAL=1'];

/** Pieces referring only to args that have a value (declared earlier in `known`). */
function piecesArb(known: string[], unsetKnown: string[]): fc.Arbitrary<Piece[]> {
  const options: Array<fc.Arbitrary<Piece>> = [VALUE.map((lit) => ({ lit }))];
  if (known.length) options.push(fc.record({ arg: fc.constantFrom(...known), style: fc.constantFrom('bare' as const, 'braced' as const, 'default' as const, 'alt' as const, 'dash' as const, 'plus' as const) }));
  // `${U:-lit}` with U declared without a value is the default; `${U:+x}` is empty.
  if (unsetKnown.length) options.push(fc.record({ arg: fc.constantFrom(...unsetKnown), style: fc.constantFrom('default' as const, 'alt' as const, 'dash' as const, 'plus' as const) }));
  // A literal first, so that a variable that is set but empty never leaves the word empty.
  return fc.tuple(VALUE, fc.array(fc.oneof(...options), { maxLength: 3 })).map(([lit, rest]) => [{ lit }, ...rest]);
}

const FALLBACK = 'zz';
const ALT = 'alt';

/** Text of pieces, as the Dockerfile writes them. Bare refs are followed by a brace-free boundary. */
function write(pieces: Piece[]): string {
  return pieces.map((p, i) => {
    if ('lit' in p) return p.lit;
    const next = pieces[i + 1];
    // `$A` followed by a letter would read as a longer name: use braces there, as a writer must.
    const bare = p.style === 'bare' && !(next && 'lit' in next);
    if (p.style === 'default') return `\${${p.arg}:-${FALLBACK}}`;
    if (p.style === 'alt') return `\${${p.arg}:+${ALT}}`;
    if (p.style === 'dash') return `\${${p.arg}-${FALLBACK}}`;
    if (p.style === 'plus') return `\${${p.arg}+${ALT}}`;
    return bare ? `$${p.arg}` : `\${${p.arg}}`;
  }).join('');
}

/** The reference resolver: evaluates the model directly. */
function evaluate(pieces: Piece[], env: Map<string, string | undefined>): string {
  return pieces.map((p) => {
    if ('lit' in p) return p.lit;
    const v = env.get(p.arg);
    if (p.style === 'default') return v ? v : FALLBACK;
    if (p.style === 'alt') return v ? ALT : '';
    if (p.style === 'dash') return v === undefined ? FALLBACK : v;
    if (p.style === 'plus') return v === undefined ? '' : ALT;
    if (v === undefined) throw new Error(`model error: ${p.arg} has no value`);
    return v;
  }).join('');
}

const modelArb: fc.Arbitrary<Model> = fc.integer({ min: 0, max: 5 }).chain((nArgs) => {
  const names = Array.from({ length: nArgs }, (_, i) => `A${i}`);
  return fc.tuple(
    fc.array(fc.boolean(), { minLength: nArgs, maxLength: nArgs }), // has default
    fc.array(fc.boolean(), { minLength: nArgs, maxLength: nArgs }), // overridden by --build-arg
    // --build-arg values, sometimes empty (set but empty: `:-` and `-` differ there)
    fc.array(fc.oneof(VALUE, fc.constant('')), { minLength: nArgs, maxLength: nArgs }),
    fc.array(fc.boolean(), { minLength: nArgs, maxLength: nArgs }),
  ).chain(([hasDef, overridden, values, joined]) => {
    // Which args end with a value: a default, or a --build-arg.
    const valued = names.filter((_, i) => hasDef[i] || overridden[i]);
    const unset = names.filter((_, i) => !hasDef[i] && !overridden[i]);
    const defs = names.map((_, i) => (hasDef[i] ? piecesArb(valued.filter((n) => Number(n.slice(1)) < i), unset.filter((n) => Number(n.slice(1)) < i)).map((p) => p as Piece[] | undefined) : fc.constant(undefined)));
    const stage = (i: number): fc.Arbitrary<GenStage> => fc.record({
      from: i > 0
        ? fc.oneof(
          fc.record({ repo: piecesArb(valued, unset), tag: piecesArb(valued, unset), quoted: fc.boolean() }),
          fc.record({ stage: fc.integer({ min: 0, max: i - 1 }), upper: fc.boolean() }),
        )
        : fc.record({ repo: piecesArb(valued, unset), tag: piecesArb(valued, unset), quoted: fc.boolean() }),
      named: fc.boolean(),
      instructions: fc.array(fc.constantFrom(...KEYWORDS), { maxLength: 3 }),
    });
    return fc.tuple(fc.tuple(...defs), fc.integer({ min: 1, max: 5 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => stage(i))))).map(([d, stages]): Model => ({
      args: names.map((name, i) => ({ name, def: d[i] })),
      joined,
      buildArgs: Object.fromEntries([...names.filter((_, i) => overridden[i]).map((n, k) => [n, values[k] ?? 'v']), ['UNUSED', 'x']]),
      stages: stages as GenStage[],
    }));
  });
});

function render(m: Model): string {
  const lines: string[] = [];
  m.args.forEach((a, i) => {
    const decl = a.def ? `${a.name}=${write(a.def)}` : a.name;
    if (i > 0 && m.joined[i]) lines[lines.length - 1] += ` ${decl}`;
    else lines.push(`ARG ${decl}`);
  });
  m.stages.forEach((s, i) => {
    let word: string;
    if ('stage' in s.from) {
      const name = `stage${s.from.stage}`;
      word = s.from.upper ? name.toUpperCase() : name;
    } else {
      word = `${write(s.from.repo)}:${write(s.from.tag)}`;
      if (s.from.quoted) word = `"${word}"`;
    }
    lines.push(`FROM ${word}${s.named || m.stages.some((t) => 'stage' in t.from && t.from.stage === i) ? ` AS stage${i}` : ''}`);
    lines.push(...s.instructions);
  });
  return `${lines.join('\n')}\n`;
}

function reference(m: Model): { image: string; keywords: string[]; chain: number[] } {
  const env = new Map<string, string | undefined>();
  for (const a of m.args) {
    if (a.name in m.buildArgs) env.set(a.name, m.buildArgs[a.name]);
    else env.set(a.name, a.def ? evaluate(a.def, env) : undefined);
  }
  const chain = [m.stages.length - 1];
  for (let s = m.stages[m.stages.length - 1]; 'stage' in s.from;) {
    chain.unshift(s.from.stage);
    s = m.stages[s.from.stage];
  }
  const root = m.stages[chain[0]].from as { repo: Piece[]; tag: Piece[] };
  return {
    image: `${evaluate(root.repo, env)}:${evaluate(root.tag, env)}`,
    keywords: chain.flatMap((i) => m.stages[i].instructions.map((x) => x.split(' ')[0])),
    chain,
  };
}

describe('scan: the base image of a Dockerfile (property)', () => {
  it('generated multi-stage Dockerfiles with ARG chains resolve to the reference resolver\'s base, stage chain and instructions', () => {
    fc.assert(fc.property(modelArb, (m) => {
      const text = render(m);
      const want = reference(m);
      const got = resolveDockerfileBase(text, { buildArgs: m.buildArgs });
      expect(got.reference, text).to.equal(want.image);
      expect(got.stages.map((s) => s.index), text).to.deep.equal(want.chain);
      expect(got.keywords, text).to.deep.equal(want.keywords);
      expect(got.flags.map((f) => f.kind)).to.deep.equal(want.image.endsWith(':latest') ? ['latest'] : []);
    }), { numRuns: 300 });
  });

  it('dropping the --build-arg of an ARG without a default that the base uses is refused, naming that ARG', () => {
    fc.assert(fc.property(VALUE, VALUE, fc.boolean(), (repo, tag, braced) => {
      const text = `ARG REPO=${repo}\nARG TAG\nFROM $REPO:${braced ? '${TAG}' : '$TAG'} AS base\nFROM base\n`;
      expect(resolveDockerfileBase(text, { buildArgs: { TAG: tag } }).reference).to.equal(`${repo}:${tag}`);
      expect(refusal(() => resolveDockerfileBase(text))).to.match(/line 3: .*--build-arg TAG=<value>/);
    }), { numRuns: 50 });
  });
});

describe('pushgate scan --file: the Dockerfile\'s base against the detected one', () => {
  it('one dockerfile-base diagnostic per catalog-named base that disagrees; history names nothing; the Dockerfile\'s tag is used when it points at the base', () => {
    const flags = (text: string) => ({ dockerfile: { file: 'Dockerfile', stage: finalStage(text) } });
    const host = (name: string) => (name === 'lab' ? '127.0.0.1:5000' : undefined);
    const base = (b: Partial<BaseImage>): BaseImage => ({ method: 'chain', registry: 'lab', repository: 'lab/debian', tags: ['12', '12.0'], digest: DIGEST as never, layers: [], note: '', ...b });
    expect(dockerfileBaseDiagnostics(flags('FROM lab/debian:12.0\n'), [base({})], host), 'a tag pointing at the base').to.deep.equal([]);
    expect(dockerfileBaseDiagnostics(flags('FROM 127.0.0.1:5000/lab/debian:12\n'), [base({})], host)).to.deep.equal([]);
    const tag = dockerfileBaseDiagnostics(flags('FROM lab/debian:12.1\n'), [base({})], host);
    expect(tag).to.have.length(1);
    expect(tag[0]).to.deep.include({ code: 'dockerfile-base' });
    expect(tag[0].message).to.equal(`Dockerfile: the Dockerfile's base (line 1) is lab/debian:12.1, but the image's base layers are 127.0.0.1:5000/lab/debian:12@${DIGEST} (found by chain), another tag of the same repository; rebuild to pick up lab/debian:12.1`);
    expect(dockerfileBaseDiagnostics(flags('FROM lab/alpine:3\n'), [base({ method: 'history', registry: undefined, repository: undefined, tags: [], digest: undefined })], host), 'history names no base').to.deep.equal([]);
    expect(dockerfileBaseDiagnostics({}, [base({})], host), 'no --file').to.deep.equal([]);
    const multi = dockerfileBaseDiagnostics(flags('FROM lab/alpine:3\n'), [base({ platform: 'linux/amd64' }), base({ platform: 'linux/arm64', method: 'annotation' })], host);
    expect(multi.map((d) => d.platform)).to.deep.equal(['linux/amd64', 'linux/arm64']);
    expect(multi[1].message).to.include('(found by annotation)');
  });
});
