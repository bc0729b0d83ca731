/**
 * Where the CLI finds its configuration, cache, database and sources (src/config/cli-state.ts):
 * flag > environment > cache default, the same for `scan` and `db`, and the credential files in
 * containers-auth.json(5) order.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { authFileLocations, cliCacheDir, defaultSources, resolveCliState } from '../../../src/config/cli-state.js';
import { DEFAULT_VULNDB_SOURCES } from '../../../src/config/defaults.js';

describe('config: CLI state locations', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-state-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('cache dir: --cache-dir > $PUSHGATE_CACHE_DIR > absolute $XDG_CACHE_HOME/pushgate > $HOME/.cache/pushgate', () => {
    const env = { HOME: '/home/u', XDG_CACHE_HOME: '/xdg/cache', PUSHGATE_CACHE_DIR: '/pg/cache' };
    expect(cliCacheDir('/flag', env)).to.deep.equal({ dir: '/flag', from: '--cache-dir' });
    expect(cliCacheDir(undefined, env)).to.deep.equal({ dir: '/pg/cache', from: 'PUSHGATE_CACHE_DIR' });
    expect(cliCacheDir(undefined, { HOME: '/home/u', XDG_CACHE_HOME: '/xdg/cache' })).to.deep.equal({ dir: '/xdg/cache/pushgate', from: 'XDG_CACHE_HOME' });
    // XDG Base Directory spec: a relative value is invalid and ignored
    expect(cliCacheDir(undefined, { HOME: '/home/u', XDG_CACHE_HOME: 'rel/cache' })).to.deep.equal({ dir: '/home/u/.cache/pushgate', from: 'HOME' });
    expect(cliCacheDir(undefined, { HOME: '/home/u' })).to.deep.equal({ dir: '/home/u/.cache/pushgate', from: 'HOME' });
  });

  it('without a config file: database in the cache, default sources (on the mirror when set), scratch in the OS temp dir', () => {
    const s = resolveCliState({}, { HOME: '/home/u' });
    expect(s).to.deep.include({ configFrom: 'built-in', dbPath: '/home/u/.cache/pushgate/vulndb.sqlite', dbPathFrom: 'cache', sourcesFrom: 'default', tmpDir: undefined, layerCacheDir: '/home/u/.cache/pushgate/layers' });
    expect(s.sources).to.deep.equal(DEFAULT_VULNDB_SOURCES);
    const m = resolveCliState({}, { HOME: '/home/u', PUSHGATE_VULNDB_MIRROR: 'http://127.0.0.1:1234/osv/' });
    expect(m.sources).to.deep.equal(['http://127.0.0.1:1234/osv/Debian/all.zip', 'http://127.0.0.1:1234/osv/Alpine/all.zip', 'http://127.0.0.1:1234/osv/npm/all.zip']);
    expect(m.sourcesFrom).to.equal('PUSHGATE_VULNDB_MIRROR');
    expect(defaultSources()).to.deep.equal(DEFAULT_VULNDB_SOURCES);
  });

  it('a config file (--config, else $PUSHGATE_CONFIG) decides the database and sources only for the keys it writes; --db beats it', () => {
    const bare = path.join(dir, 'bare.yaml');
    fs.writeFileSync(bare, 'log:\n  level: warn\n');
    const full = path.join(dir, 'full.yaml');
    fs.writeFileSync(full, `vulndb:\n  path: ${dir}/db.sqlite\n  sources: [${dir}]\nscan:\n  tmpDir: ${dir}/tmp\n`);
    const env = { HOME: '/home/u', PUSHGATE_CONFIG: full };
    const fromEnv = resolveCliState({}, env);
    expect(fromEnv).to.deep.include({ configFile: full, configFrom: 'PUSHGATE_CONFIG', dbPath: `${dir}/db.sqlite`, dbPathFrom: 'vulndb.path', sources: [dir], sourcesFrom: 'vulndb.sources', tmpDir: `${dir}/tmp` });
    const flag = resolveCliState({ config: bare }, env);
    expect(flag).to.deep.include({ configFile: bare, configFrom: '--config', dbPath: '/home/u/.cache/pushgate/vulndb.sqlite', dbPathFrom: 'cache', sourcesFrom: 'default', tmpDir: undefined });
    expect(resolveCliState({ db: 'rel/x.sqlite' }, env)).to.deep.include({ dbPath: path.resolve('rel/x.sqlite'), dbPathFrom: '--db' });
    expect(() => resolveCliState({}, { HOME: '/home/u', PUSHGATE_CONFIG: path.join(dir, 'missing.yaml') })).to.throw(/file not found/);
  });

  it('credential files: $REGISTRY_AUTH_FILE replaces $XDG_RUNTIME_DIR/containers/auth.json; then XDG_CONFIG_HOME, then Docker; missing files left out', () => {
    const home = path.join(dir, 'home');
    const files = {
      explicit: path.join(dir, 'explicit.json'),
      runtime: path.join(dir, 'run', 'containers', 'auth.json'),
      config: path.join(home, '.config', 'containers', 'auth.json'),
      docker: path.join(home, '.docker', 'config.json'),
      dockerEnv: path.join(dir, 'dockercfg', 'config.json'),
    };
    for (const f of Object.values(files)) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, '{}');
    }
    const env = { HOME: home, XDG_RUNTIME_DIR: path.join(dir, 'run') };
    expect(authFileLocations(env).map((f) => [f.path, f.format])).to.deep.equal([[files.runtime, 'containers'], [files.config, 'containers'], [files.docker, 'docker']]);
    expect(authFileLocations({ ...env, REGISTRY_AUTH_FILE: files.explicit, DOCKER_CONFIG: path.dirname(files.dockerEnv) }).map((f) => f.path)).to.deep.equal([files.explicit, files.config, files.dockerEnv]);
    fs.rmSync(files.runtime);
    expect(authFileLocations(env).map((f) => f.from)).to.deep.equal(['XDG_CONFIG_HOME', 'HOME']);
  });
});
