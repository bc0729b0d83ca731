/**
 * `pushgate serve`'s readiness without a vulnerability database says which command builds the one it reads:
 * `pushgate db update --db <vulndb.path>`, since a bare `pushgate db update` installs into the user's cache
 * directory and the server would stay not ready; with `--config <file>` when the server runs with one, since
 * without it the update reads the public OSV exports, not the server's `vulndb.sources`.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VulnDbHolder } from '../../../src/gate/vulndb-holder.js';

describe('gate: vulnerability database readiness hint', () => {
  let dir: string;
  let cwd: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-holder-hint-'));
    cwd = process.cwd();
    process.chdir(dir);
  });
  afterEach(() => {
    process.chdir(cwd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a missing database names `pushgate db update --db` with its absolute path', () => {
    const quiet = { info: () => undefined, warn: () => undefined };
    const holder = new VulnDbHolder('./data/vulndb.sqlite', quiet);
    const r = holder.readiness();
    expect(r.ok).to.equal(false);
    const error = (r as { error: string }).error;
    expect(error).to.equal(`no vulnerability database at ./data/vulndb.sqlite: run \`pushgate db update --db ${path.join(fs.realpathSync(dir), 'data', 'vulndb.sqlite')}\``);
  });

  it('with a configuration file the hint names it too (its vulndb.sources), with absolute paths; the built-in config is not named', () => {
    const quiet = { info: () => undefined, warn: () => undefined };
    const here = fs.realpathSync(dir);
    const withFile = new VulnDbHolder('./data/vulndb.sqlite', quiet, undefined, 'pushgate.yaml').readiness();
    expect((withFile as { error: string }).error).to.equal(
      `no vulnerability database at ./data/vulndb.sqlite: run \`pushgate db update --config ${path.join(here, 'pushgate.yaml')} --db ${path.join(here, 'data', 'vulndb.sqlite')}\``,
    );
    const builtIn = new VulnDbHolder('./data/vulndb.sqlite', quiet, undefined, '<built-in>').readiness();
    expect((builtIn as { error: string }).error).to.equal(`no vulnerability database at ./data/vulndb.sqlite: run \`pushgate db update --db ${path.join(here, 'data', 'vulndb.sqlite')}\``);
  });
});
