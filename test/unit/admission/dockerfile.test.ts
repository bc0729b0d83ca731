/**
 * Static checks of the Dockerfile and .dockerignore (no container engine runs in this test: see the
 * report of issue 8). They catch what breaks a build or a hardened runtime: a COPY of a path the
 * build context does not have or .dockerignore drops, an entrypoint that does not match the compiled
 * layout, a root or writable-root runtime, dev dependencies in the runtime stage.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { ROOT } from '../../helpers/lab.js';

interface Instr { op: string; args: string; stage: number }

function parseDockerfile(text: string): { instrs: Instr[]; stages: Array<{ from: string; name?: string }> } {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const instrs: Instr[] = [];
  const stages: Array<{ from: string; name?: string }> = [];
  for (const l of lines) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`not an instruction: ${l}`);
    if (m[1] === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2])!;
      stages.push({ from: f[1], name: f[2] });
    }
    instrs.push({ op: m[1], args: m[2], stage: stages.length - 1 });
  }
  return { instrs, stages };
}

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const { instrs, stages } = parseDockerfile(text);
  const last = stages.length - 1;
  const final = instrs.filter((i) => i.stage === last);
  const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const ignored = (p: string): boolean => {
    let out = false;
    for (const pat of ignore) {
      const neg = pat.startsWith('!');
      const g = neg ? pat.slice(1) : pat;
      if (picomatch(g, { dot: true })(p) || picomatch(`${g}/**`, { dot: true })(p)) out = !neg;
    }
    return out;
  };

  it('takes its base images from build arguments and is multi-stage', () => {
    const args = instrs.filter((i) => i.op === 'ARG' && i.stage === -1).map((i) => i.args.split('=')[0]);
    expect(args).to.include.members(['BUILD_IMAGE', 'RUNTIME_IMAGE']);
    expect(stages[0].from).to.equal('${BUILD_IMAGE}');
    expect(stages[last].from).to.equal('${RUNTIME_IMAGE}');
    expect(stages.length).to.be.at.least(2);
    expect(text).to.match(/ARG BUILD_IMAGE=node:20-bookworm-slim/);
  });

  it('builds with npm ci + npm run build and ships production dependencies only', () => {
    const build = instrs.filter((i) => i.stage === 0 && i.op === 'RUN').map((i) => i.args).join('\n');
    expect(build).to.contain('npm ci');
    expect(build).to.contain('npm run build');
    // Production dependencies: a fresh `npm ci --omit=dev`, or `npm prune --omit=dev` of the tree the build
    // stage installed from the same lockfile (same package set, without compiling native modules again).
    const prod = instrs.filter((i) => i.op === 'RUN' && /npm (ci|prune)\b/.test(i.args) && /--omit=dev/.test(i.args));
    expect(prod).to.have.length(1);
    const prodStage = stages[prod[0].stage].name;
    const nm = final.find((i) => i.op === 'COPY' && /node_modules/.test(i.args));
    expect(nm?.args).to.contain(`--from=${prodStage} `);
    expect(final.some((i) => i.op === 'RUN' && /npm (ci|install)(?!.*--omit=dev)/.test(i.args))).to.equal(false);
  });

  it('runs as uid 10001 with zstd, a health check and the two ports', () => {
    const user = final.filter((i) => i.op === 'USER').at(-1);
    expect(user?.args).to.match(/^10001(:10001)?$/);
    // Nothing after USER needs root.
    expect(final.slice(final.indexOf(user!)).some((i) => i.op === 'RUN')).to.equal(false);
    expect(final.find((i) => i.op === 'RUN')?.args).to.match(/apt-get install[^&]*\bzstd\b/);
    expect(final.find((i) => i.op === 'EXPOSE')?.args.split(/\s+/)).to.deep.equal(['8080', '8443']);
    expect(final.find((i) => i.op === 'HEALTHCHECK')?.args).to.contain('/healthz');
    expect(final.find((i) => i.op === 'ENV')?.args).to.contain('PUSHGATE_CONFIG=/etc/pushgate/pushgate.yaml');
  });

  it('copies only paths the build context has and .dockerignore keeps', () => {
    for (const i of instrs.filter((x) => x.op === 'COPY' && !x.args.startsWith('--from'))) {
      const parts = i.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        expect(fs.existsSync(path.join(ROOT, src)), `COPY ${src}`).to.equal(true);
        expect(ignored(src), `COPY ${src} is excluded by .dockerignore`).to.equal(false);
      }
    }
    for (const p of ['node_modules', '.git', 'test', 'dist', '.cache']) expect(ignored(p), p).to.equal(true);
  });

  it('the entrypoint runs the compiled CLI where the build puts it', () => {
    const entry = final.find((i) => i.op === 'ENTRYPOINT')!.args;
    expect(entry).to.contain('/app/bin/pushgate.js');
    const bin = fs.readFileSync(path.join(ROOT, 'bin', 'pushgate.js'), 'utf8');
    expect(bin).to.contain("path.join(root, 'dist', 'cli', 'main.js')");
    const build = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8'));
    expect(build.compilerOptions).to.include({ rootDir: 'src', outDir: 'dist' });
    expect(fs.existsSync(path.join(ROOT, 'src', 'cli', 'main.ts'))).to.equal(true);
    expect(final.some((i) => i.op === 'COPY' && /--from=build \/src\/dist \.\/dist/.test(i.args))).to.equal(true);
  });

  it('puts `pushgate` on PATH, as `kubectl exec deploy/pushgate -- pushgate reconcile` in the chart README runs it', () => {
    const chartReadme = fs.readFileSync(path.join(ROOT, 'charts', 'pushgate', 'README.md'), 'utf8');
    expect(chartReadme).to.match(/exec deploy\/pushgate -- pushgate reconcile/);
    // node:*-slim's PATH has /usr/local/bin; the link is made as root, before USER.
    const user = final.findIndex((i) => i.op === 'USER');
    const link = final.findIndex((i) => i.op === 'RUN' && /\bln -s \/app\/bin\/pushgate\.js \/usr\/local\/bin\/pushgate\b/.test(i.args));
    expect(link, 'RUN ln -s /app/bin/pushgate.js /usr/local/bin/pushgate').to.be.within(0, user - 1);
    expect(final.some((i) => i.op === 'COPY' && /^bin \.\/bin$/.test(i.args))).to.equal(true);
    const entry = path.join(ROOT, 'bin', 'pushgate.js');
    expect(fs.readFileSync(entry, 'utf8').split('\n')[0]).to.equal('#!/usr/bin/env node');
    // COPY keeps the mode of the build context (the checkout): the link needs an executable target.
    expect(fs.statSync(entry).mode & 0o111).to.equal(0o111);
  });
});
