/**
 * `pushgate scan PATH` without a prefix: a target that is no registry reference but names a file or
 * directory here gets an error naming the prefix that reads it (oci: for an OCI layout, dir: for
 * another directory, archive:/sbom: for a file); a reference still parses, and a target that is
 * neither keeps the reference error alone. Transport names of skopeo/podman and Grype/Syft source
 * schemes get what pushgate reads instead. A target that parses as a reference and also names a local
 * path is read from the registry (the words may name a repository); when that fails, the error names the
 * prefix that reads the local one.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localPathHint, parseRegistryTarget, withLocalPathHint } from '../../../src/cli/commands/scan.js';
import { isPushgateError, PushgateError } from '../../../src/core/index.js';
import { oneLine } from '../../helpers/cli.js';
import { makeSandbox, runInSandbox, type CliSandbox } from '../../helpers/cli-sandbox.js';
import { freePort } from '../../helpers/ports.js';

describe('cli: scan of a local path without a prefix', () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-hint-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const message = (target: string): string => {
    try {
      parseRegistryTarget(target);
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  };

  it('property: a skopeo/podman transport name gets what pushgate reads instead', () => {
    const host = fc.constantFrom('127.0.0.1:5000', 'registry.example.test', 'reg.example.test:8443');
    const repo = fc.constantFrom('lab/app', 'team/x/y', 'a');
    const tag = fc.constantFrom(':1.0', ':latest', '');
    fc.assert(
      fc.property(host, repo, tag, fc.constantFrom('docker-archive', 'oci-archive', 'docker-daemon', 'containers-storage', 'ostree', 'sif'), fc.constantFrom('/tmp/img.tar', 'img.tar', './a/b.tar'), fc.boolean(), (h, r, t, transport, file, withRef) => {
        const ref = `${h}/${r}${t}`;
        // docker://REF: the reference itself, and what is suggested parses as that reference
        const m = message(`docker://${ref}`);
        expect(m).to.include(`write ${ref}`);
        expect(parseRegistryTarget(ref).repository).to.equal(r);
        const other = message(`${transport}:${file}${withRef ? `:${r}${t}` : ''}`);
        if (transport.endsWith('-archive')) expect(other).to.include(`write archive:${file} (`);
        else expect(other).to.include(`pushgate reads no ${transport} images: save the image to a file first`);
        // a Docker Hub image of that name is still reachable, named in full
        expect(other).to.include(`docker.io/library/${transport}:TAG`);
        expect(parseRegistryTarget(`docker.io/library/${transport}${t}`).repository).to.equal(`library/${transport}`);
        // Docker Hub's own `docker` image is no transport
        expect(parseRegistryTarget(`docker${t}`).repository).to.equal('library/docker');
      }),
      { numRuns: 200 },
    );
  });

  it('property: a Grype/Syft source scheme gets what pushgate reads instead; registry:/docker: only when no reference parses', () => {
    const host = fc.constantFrom('127.0.0.1:5000', 'registry.example.test', 'reg.example.test:8443');
    const repo = fc.constantFrom('lab/app', 'team/x/y', 'nginx');
    const tag = fc.constantFrom(':1.0', ':latest', '');
    const file = fc.constantFrom('/tmp/img.tar', 'img.tar', './a/b.tar', '/srv/layout');
    fc.assert(
      fc.property(host, repo, tag, file, fc.constantFrom('oci-dir', 'file', 'podman', 'singularity'), (h, r, t, f, scheme) => {
        const m = message(`${scheme}:${f}`);
        expect(m).to.include('names a skopeo/podman transport or a Grype/Syft source, not a registry reference');
        if (scheme === 'oci-dir') expect(m).to.include(`write oci:${f} (an OCI image layout)`);
        if (scheme === 'file') expect(m).to.include(`write archive:${f} (`).and.include(`sbom:${f} (`);
        if (scheme === 'podman' || scheme === 'singularity') expect(m).to.include(`pushgate reads no ${scheme} images: save the image to a file first`);
        expect(m).to.include(`docker.io/library/${scheme}:TAG`);
        // registry:REF with a host: the reference itself, which parses
        const ref = `${h}/${r}${t}`;
        expect(message(`registry:${ref}`)).to.include(`a registry reference needs no registry: prefix: write ${ref}`);
        expect(parseRegistryTarget(ref).repository).to.equal(r);
        // docker:REF that is no Hub reference: the daemon's image, with what to do instead
        const d = message(`docker:${ref}`);
        expect(d).to.include(`docker:REF names the Docker daemon's image`).and.include(`scan the registry reference ${ref}`);
        // Docker Hub's registry and docker images still parse as references
        expect(parseRegistryTarget(`registry${t}`).repository).to.equal('library/registry');
        expect(parseRegistryTarget(`docker${t || ':24-dind'}`).repository).to.equal('library/docker');
      }),
      { numRuns: 200 },
    );
  });

  it('property: an existing path that is no reference names the prefix for what it is', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9 _.-]{1,20}$/), fc.constantFrom('layout', 'tree', 'file'), (name, kind) => {
        // an absolute path with an upper-case letter is never a valid repository
        const p = path.join(root, `${n++}X${name}`);
        if (kind === 'file') fs.writeFileSync(p, '{}');
        else fs.mkdirSync(p);
        if (kind === 'layout') fs.writeFileSync(path.join(p, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
        const m = message(p);
        expect(m).to.match(/^image reference /);
        if (kind === 'layout') expect(m).to.include(`is a directory here: to scan it, write oci:${p} (an OCI image layout)`);
        if (kind === 'tree') expect(m).to.include(`is a directory here: to scan it, write dir:${p} (a file tree`);
        if (kind === 'file') expect(m).to.include(`is a file here: to scan it, write archive:${p}`).and.to.include(`sbom:${p}`);
      }),
      { numRuns: 60 },
    );
  });

  it('a path that does not exist keeps the reference error alone; a reference parses', () => {
    const missing = path.join(root, 'Nope');
    expect(message(missing)).to.match(/^image reference /).and.not.to.include('here: to scan it');
    expect(parseRegistryTarget('127.0.0.1:5000/team/app:1')).to.include({ registry: '127.0.0.1:5000', repository: 'team/app', tag: '1' });
  });
});

describe('cli: scan of a registry reference that also names a local path', function () {
  this.timeout(120_000);
  let sb: CliSandbox;
  before(() => {
    sb = makeSandbox();
  });
  after(() => sb.remove());

  it('property: a registry error on a target that is also a file or directory here says which prefix reads it; other errors are kept', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.constantFrom('REGISTRY', 'UNAUTHORIZED', 'NOT_FOUND') as fc.Arbitrary<'REGISTRY' | 'UNAUTHORIZED' | 'NOT_FOUND'>, fc.constantFrom('layout', 'tree', 'file', 'none'), fc.boolean(), (code, kind, retryable) => {
        const p = path.join(sb.root, `t${n++}.tar`);
        if (kind === 'file') fs.writeFileSync(p, '{}');
        if (kind === 'tree' || kind === 'layout') fs.mkdirSync(p);
        if (kind === 'layout') fs.writeFileSync(path.join(p, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
        const e = new PushgateError(code, 'registry x: GET manifest library/t.tar:latest: ENOTFOUND', { retryable });
        const out = withLocalPathHint(e, p);
        if (kind === 'none') {
          expect(out).to.equal(e);
          return;
        }
        expect(isPushgateError(out, code), String(out)).to.equal(true);
        expect((out as PushgateError).retryable).to.equal(retryable);
        expect((out as Error).message).to.match(/^registry x: GET manifest library\/t\.tar:latest: ENOTFOUND; /);
        expect((out as Error).message).to.include(localPathHint(p)!);
        if (kind === 'file') expect((out as Error).message).to.include(`write archive:${p} (`);
        if (kind === 'layout') expect((out as Error).message).to.include(`write oci:${p} (an OCI image layout)`);
        if (kind === 'tree') expect((out as Error).message).to.include(`write dir:${p} (a file tree`);
        // anything that is no pushgate error (a bug) is passed on untouched
        const plain = new Error('boom');
        expect(withLocalPathHint(plain, p)).to.equal(plain);
      }),
      { numRuns: 80 },
    );
  });

  it('pushgate scan HOST/img.tar, where img.tar is a file here and the registry is unreachable: exit 2 naming archive:', async () => {
    const port = await freePort();
    const dir = path.join(sb.cwd, `127.0.0.1:${port}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'img.tar'), 'not a tar');
    const target = `127.0.0.1:${port}/img.tar`;
    const r = await runInSandbox(sb, ['scan', '-q', target], { timeoutMs: 60_000 });
    const line = oneLine(r, target);
    expect(line).to.include(`registry 127.0.0.1:${port}`);
    expect(line).to.include(`${target} is a file here: to scan it, write archive:${target} (a docker save or OCI archive) or sbom:${target}`);
    // without the file, the registry error alone
    fs.rmSync(path.join(dir, 'img.tar'));
    const alone = oneLine(await runInSandbox(sb, ['scan', '-q', target], { timeoutMs: 60_000 }), target);
    expect(alone).to.include(`registry 127.0.0.1:${port}`).and.not.to.include('here: to scan it');
  });
});
