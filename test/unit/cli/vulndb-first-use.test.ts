/**
 * A scan's first-use database build (openCliVulnDb, src/cli/vulndb-state.ts) that fails for another
 * reason than the network (a source that is no OSV export, a cache directory that cannot be made)
 * says so in one line, with the error and how to get a database offline, not that the sources are
 * unreachable.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { offlineHint, openCliVulnDb } from '../../../src/cli/vulndb-state.js';
import { resolveCliState } from '../../../src/config/cli-state.js';

describe('cli: first-use vulnerability database', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-first-use-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a build that fails on what the sources hold names the error, not an unreachable source', async () => {
    const state = resolveCliState({ cacheDir: dir }, { HOME: dir });
    const stderr = new PassThrough();
    let text = '';
    stderr.setEncoding('utf8').on('data', (d: string) => { text += d; });
    const notZip = (async () => new Response('this is no zip archive', { status: 200 })) as typeof fetch;
    const db = await openCliVulnDb(state, { stderr: stderr as unknown as NodeJS.WriteStream, fetch: notZip });
    expect(db).to.equal(undefined);
    const last = text.trim().split('\n').filter((l) => l.startsWith('pushgate: no vulnerability database at')).pop() ?? '';
    expect(last).to.match(new RegExp(`^pushgate: no vulnerability database at ${state.dbPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: building it failed: .+; to get one offline, `));
    expect(last).to.not.match(/sources are/);
  });

  it('the offline hint names --db when --cache-dir chose the database (a bare `db update` would install elsewhere)', () => {
    const flagged = resolveCliState({ cacheDir: dir }, { HOME: path.join(dir, 'home') });
    expect(offlineHint(flagged)).to.include(`"pushgate db update --source FILE|DIR --db ${flagged.dbPath}"`);
    // from the environment, the same variables lead a bare `db update` to the same database
    const fromEnv = resolveCliState({}, { HOME: path.join(dir, 'home'), XDG_CACHE_HOME: dir });
    expect(offlineHint(fromEnv)).to.include('"pushgate db update --source FILE|DIR" here');
  });
});
