/**
 * What `pushgate scan` says when the scan is incomplete: the `incomplete-scan` reason advises scanning
 * again (nothing was pushed) in every output format, while the gate's stored reason text, part of the
 * key that decides when published referrers are replaced, stays as it was. A `--db` file that is no
 * readable database is named as such, with the `db update --db FILE` that rebuilds it, never reported
 * as a missing database nor replaced behind the user's back.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { openCliVulnDb } from '../../../src/cli/vulndb-state.js';
import { CLI_INCOMPLETE_ADVICE } from '../../../src/cli/scan-options.js';
import { resolveCliState } from '../../../src/config/cli-state.js';
import { judgeScan } from '../../../src/gate/judge.js';
import { defaultPolicy, INCOMPLETE_ADVICE } from '../../../src/policy/index.js';
import { makeSandbox, writeAdmZipRootfs, runInSandbox, type CliSandbox } from '../../helpers/cli-sandbox.js';

describe('cli: pushgate scan of an incomplete scan', function () {
  this.timeout(120_000);
  let sb: CliSandbox;
  before(() => {
    sb = makeSandbox();
    writeAdmZipRootfs(sb);
  });
  after(() => sb.remove());

  it('every output format advises scanning again, never pushing again', async () => {
    for (const format of ['table', 'json', 'sarif', 'cyclonedx']) {
      const r = await runInSandbox(sb, ['scan', 'dir:rootfs', '--offline', '--db', 'nothing-here.sqlite', '--format', format]);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stdout, format).to.not.include('push again');
      if (format === 'table' || format === 'json') expect(r.stdout, format).to.include(`${CLI_INCOMPLETE_ADVICE}.`);
    }
  });

  it('the gate\'s own reason text, which the server stores and publishes, is unchanged', () => {
    const scan = { target: 'dir:x', platforms: [], diagnostics: [] } as unknown as Parameters<typeof judgeScan>[0];
    const { report } = judgeScan(scan, undefined, defaultPolicy(), {});
    const reason = report.verdict.reasons.find((r) => r.rule === 'incomplete-scan');
    expect(reason?.message).to.match(new RegExp(`\\. ${INCOMPLETE_ADVICE.replace(/[()]/g, '\\$&')}\\.$`));
  });

  it('a --db file that is no database: the report names the file, why, and the db update --db FILE that rebuilds it; the file is left alone', async () => {
    fs.writeFileSync(path.join(sb.cwd, 'damaged.sqlite'), 'this is a text file, not SQLite\n');
    const r = await runInSandbox(sb, ['scan', 'dir:rootfs', '--db', 'damaged.sqlite', '--format', 'json']);
    expect(r.status, r.stderr).to.equal(1);
    const report = JSON.parse(r.stdout) as { diagnostics: Array<{ code: string; message: string }> };
    const d = report.diagnostics.find((x) => x.code === 'vulndb-missing');
    const file = path.join(sb.cwd, 'damaged.sqlite');
    expect(d?.message).to.include(`${file} is not a readable pushgate vulnerability database (file is not a database)`);
    expect(d?.message).to.include(`\`pushgate db update --db ${file}\``);
    expect(d?.message).to.not.match(/^no vulnerability database/);
    expect(fs.readFileSync(file, 'utf8')).to.equal('this is a text file, not SQLite\n');
  });

  it('whatever bytes the file holds, or a directory in its place: called unreadable with the rebuild command, no download tried (property)', async () => {
    const dir = sb.newDir('unreadable');
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)), fc.constant('dir' as const)), async (content) => {
        const file = path.join(dir, `db-${n++}.sqlite`);
        if (content === 'dir') fs.mkdirSync(file);
        else fs.writeFileSync(file, content);
        const state = resolveCliState({ db: file }, { HOME: sb.home });
        const why: string[] = [];
        const stderr = new PassThrough();
        let fetched = false;
        const db = await openCliVulnDb(state, { stderr: stderr as unknown as NodeJS.WriteStream, onUnreadable: (w) => why.push(w), fetch: (async () => { fetched = true; throw new Error('no network in this test'); }) as typeof fetch });
        expect(db).to.equal(undefined);
        expect(fetched).to.equal(false);
        expect(why).to.have.length(1);
        expect(why[0]).to.match(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not a readable pushgate vulnerability database \\(.+\\): `));
        expect(why[0]).to.include(`pushgate db update --db ${file}\``);
      }),
      { numRuns: 30 },
    );
  });
});
