/**
 * A Harbor repository whose name leaves no room for the quarantine project: Harbor keeps repositories in
 * Distribution, whose names end at 255 characters, so `quarantine/<name>` of a name of 245 or more cannot
 * exist and the copy failed on every try while the artifact stayed pullable under its tag. It is deleted
 * instead, with the reason. Real HarborApi and actions against the replayed exchanges of
 * test/helpers/harbor-replay.ts (no Harbor can run here; a request out of script fails the test).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { enforce, harborTarget } from '../../../src/enforce/index.js';
import type { RegistryClient } from '../../../src/registry/client.js';
import { harborReplay, type Exchange } from '../../helpers/harbor-replay.js';

const D_NEW = `sha256:${'a'.repeat(64)}`;
const D_OLD = `sha256:${'b'.repeat(64)}`;
const AUTH = `Basic ${Buffer.from('robot$team+pushgate:s3cret-robot').toString('base64')}`;
const enc = encodeURIComponent;
const target = (url: string) => harborTarget({ name: 'harbor', url, auth: { username: 'robot$team+pushgate', password: 's3cret-robot' }, quarantine: { repositoryPrefix: 'quarantine/' } });
const noClient = {} as RegistryClient;

/** `team/<name>` as Harbor's API path spells it (the repository part URL-encoded twice). */
const repoPath = (project: string, repo: string) => `/api/v2.0/projects/${project}/repositories/${enc(enc(repo))}`;

function quarantineScript(repository: string): Exchange[] {
  const repo = repository.slice('team/'.length);
  return [
    { method: 'GET', path: '/api/v2.0/labels?name=quarantined&scope=g', status: 200, response: [{ id: 7, name: 'quarantined', scope: 'g' }] },
    { method: 'POST', path: `${repoPath('team', repo)}/artifacts/${enc(D_NEW)}/labels`, body: { id: 7 }, status: 200 },
    { method: 'POST', path: `${repoPath('quarantine', repository)}/artifacts?from=${enc(`${repository}@${D_NEW}`)}`, status: 201 },
    { method: 'DELETE', path: `${repoPath('team', repo)}/artifacts/${enc(D_NEW)}`, status: 200 },
  ];
}

describe('enforce: a Harbor repository name with no room for the quarantine project', () => {
  it('deletes the artifact instead of copying it (no label, no copy), restores the tag, and says why', async () => {
    const repository = `team/${'a'.repeat(250)}`;
    const repo = repository.slice(5);
    const h = await harborReplay(
      [
        { method: 'DELETE', path: `${repoPath('team', repo)}/artifacts/${enc(D_NEW)}`, status: 200 },
        { method: 'POST', path: `${repoPath('team', repo)}/artifacts/${enc(D_OLD)}/tags`, body: { name: 'v2' }, status: 201 },
      ],
      { auth: AUTH },
    );
    const e = await enforce({ client: noClient, type: 'harbor', harbor: target(h.url), repository, digest: D_NEW, tag: 'v2', decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/', restoreDigest: D_OLD });
    expect(h.done()).to.deep.equal([]);
    await h.close();
    expect(e).to.include({ action: 'delete', status: 'done' });
    expect(e.detail).to.match(/^cannot be quarantined: quarantine\/team\/a+ is longer than 255 characters, so no copy can be made there: deleted artifact /).and.include(`restored ${repository}:v2 to ${D_OLD}`);
  });

  it('property: names of 230 to 255 characters are quarantined while quarantine/<name> fits, deleted once it does not', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 230, max: 255 }), fc.constantFrom('a', 'b-c', 'd.e', 'f_g'), async (length, unit) => {
        let body = '';
        while (body.length < length - 'team/'.length) body += unit;
        body = body.slice(0, length - 'team/'.length).replace(/[-._]+$/, '').replace(/[-._]+(?=[-._])/g, '');
        const repository = `team/${body}`;
        const fits = `quarantine/${repository}`.length <= 255;
        const script = fits ? quarantineScript(repository) : [{ method: 'DELETE', path: `${repoPath('team', body)}/artifacts/${enc(D_NEW)}`, status: 200 } as Exchange];
        const h = await harborReplay(script, { auth: AUTH });
        try {
          const e = await enforce({ client: noClient, type: 'harbor', harbor: target(h.url), repository, digest: D_NEW, tag: 'v2', decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/' });
          expect(h.done(), repository).to.deep.equal([]);
          expect(e, e.detail).to.include({ action: fits ? 'quarantine' : 'delete', status: 'done' });
          if (!fits) expect(e.detail).to.match(/^cannot be quarantined: /);
        } finally {
          await h.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
