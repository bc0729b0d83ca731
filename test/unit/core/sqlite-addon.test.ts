/**
 * src/core/sqlite-addon.ts: the better-sqlite3 addon named directly must be the very file the
 * `bindings` package finds when better-sqlite3 searches for it, so that naming it changes only the
 * time a database takes to open. Each side in its own process (an addon loads once per process).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../../helpers/lab.js';

/** The addon file a fresh process has loaded after opening an in-memory database with `options` (JS source). */
function loadedAddon(options: string): string {
  const code = [
    "const { createRequire } = require('node:module');",
    `const req = createRequire(${JSON.stringify(`${ROOT}/package.json`)});`,
    "const Database = req('better-sqlite3');",
    `new Database(':memory:', ${options}).close();`,
    "process.stdout.write(Object.keys(require.cache).find((k) => k.endsWith('.node')) ?? '');",
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout;
}

describe('core: the SQLite addon named for better-sqlite3', function () {
  this.timeout(60_000);

  it('names the file better-sqlite3 finds itself (through bindings), and a database opens with it', async () => {
    const { sqliteAddonOptions } = await import('../../../src/core/sqlite-addon.js');
    const named = sqliteAddonOptions().nativeBinding;
    expect(named, 'an installed build/Release addon is named').to.be.a('string');
    const found = loadedAddon('{}');
    expect(found).to.match(/better_sqlite3\.node$/);
    expect(named).to.equal(found);
    expect(loadedAddon(JSON.stringify({ nativeBinding: named }))).to.equal(found);
  });
});
