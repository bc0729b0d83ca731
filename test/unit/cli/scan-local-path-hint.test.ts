/**
 * `pushgate scan PATH` without a prefix: a target that is no registry reference but names a file or
 * directory here gets an error naming the prefix that reads it (oci: for an OCI layout, dir: for
 * another directory, archive:/sbom: for a file); a reference still parses, and a target that is
 * neither keeps the reference error alone.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseRegistryTarget } from '../../../src/cli/commands/scan.js';

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
