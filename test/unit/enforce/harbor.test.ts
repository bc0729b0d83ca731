/**
 * Harbor enforcement through the REST API v2.0. No Harbor can run here (it needs PostgreSQL, Redis,
 * its core, jobservice and registry containers), so these tests run the real HarborApi and actions
 * against an in-process HTTP server that replays exchanges derived from Harbor's API spec
 * (protocols.md §2.6, swagger `api/v2.0/swagger.yaml`): each expected request (method, exact path
 * with the repository name URL-encoded twice, JSON body, Basic auth) and the answer Harbor gives
 * (status, `{"errors":[…]}` bodies, `Location` headers). A request out of script fails the test.
 */
import { expect } from 'chai';
import { enforce, harborTarget, releaseQuarantined, deleteQuarantinedCopy, repositoryPath, splitRepository } from '../../../src/enforce/index.js';
import type { RegistryClient } from '../../../src/registry/client.js';
import { harborReplay, type Exchange } from '../../helpers/harbor-replay.js';

const D_NEW = `sha256:${'a'.repeat(64)}`;
const D_OLD = `sha256:${'b'.repeat(64)}`;
const AUTH = `Basic ${Buffer.from('robot$team+pushgate:s3cret-robot').toString('base64')}`;

/** The replay of test/helpers/harbor-replay.ts with pushgate's robot account. */
const replay = (script: Exchange[]) => harborReplay(script, { auth: AUTH });

const target = (url: string, q: { remove?: 'artifact' | 'tag'; project?: string } = {}) =>
  harborTarget({ name: 'harbor', url, auth: { username: 'robot$team+pushgate', password: 's3cret-robot' }, quarantine: { repositoryPrefix: 'quarantine/', ...q } });
const noClient = {} as RegistryClient; // Harbor enforcement never uses the OCI client
const enc = encodeURIComponent;

describe('enforce: Harbor REST API v2.0 (replayed exchanges; no Harbor can run here)', () => {
  it('splits project and repository and encodes the repository name twice', () => {
    expect(splitRepository('team/sub/app')).to.deep.equal({ project: 'team', repository: 'sub/app' });
    expect(repositoryPath('team/sub/app')).to.equal('/projects/team/repositories/sub%252Fapp');
    expect(repositoryPath('team/app')).to.equal('/projects/team/repositories/app');
    expect(() => splitRepository('app')).to.throw(/project\/name/);
  });

  it('quarantine of a re-pushed tag: label, copy to the quarantine project, delete the artifact, restore the tag', async () => {
    const h = await replay([
      { method: 'GET', path: '/api/v2.0/labels?name=quarantined&scope=g', status: 200, response: [] },
      { method: 'GET', path: '/api/v2.0/projects/team', status: 200, response: { project_id: 12, name: 'team' } },
      { method: 'GET', path: '/api/v2.0/labels?name=quarantined&scope=p&project_id=12', status: 200, response: [{ id: 7, name: 'quarantined', scope: 'p', project_id: 12 }] },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/sub%252Fapp/artifacts/${enc(D_NEW)}/labels`, body: { id: 7 }, status: 200 },
      { method: 'POST', path: `/api/v2.0/projects/quarantine/repositories/team%252Fsub%252Fapp/artifacts?from=${enc(`team/sub/app@${D_NEW}`)}`, status: 201, headers: { location: `/api/v2.0/projects/quarantine/repositories/team%252Fsub%252Fapp/artifacts/${D_NEW}` } },
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/sub%252Fapp/artifacts/${enc(D_NEW)}`, status: 200 },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/sub%252Fapp/artifacts/${enc(D_OLD)}/tags`, body: { name: 'v2' }, status: 201 },
    ]);
    const writes: unknown[] = [];
    const e = await enforce({ client: noClient, type: 'harbor', harbor: target(h.url), repository: 'team/sub/app', digest: D_NEW, tag: 'v2', decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/', restoreDigest: D_OLD, onWrite: (w) => writes.push(w) });
    expect(h.done()).to.deep.equal([]);
    await h.close();
    expect(e).to.include({ action: 'quarantine', status: 'done' });
    expect(e.detail).to.include('copied to quarantine/team/sub/app').and.include(`restored team/sub/app:v2 to ${D_OLD}`);
    expect(writes).to.deep.equal([{ repository: 'quarantine/team/sub/app', digest: D_NEW }, { repository: 'team/sub/app', digest: D_OLD, tag: 'v2' }]);
  });

  it('creates the label once when none exists; 409 on attach counts as done; remove: tag deletes only the tag', async () => {
    const h = await replay([
      { method: 'GET', path: '/api/v2.0/labels?name=held&scope=g', status: 200, response: null },
      { method: 'GET', path: '/api/v2.0/projects/team', status: 200, response: { project_id: 3 } },
      { method: 'GET', path: '/api/v2.0/labels?name=held&scope=p&project_id=3', status: 200, response: [] },
      { method: 'POST', path: '/api/v2.0/labels', body: { name: 'held', color: '#C92100', description: 'quarantined by pushgate: see the verdict for the reasons', scope: 'p', project_id: 3 }, status: 201, headers: { location: '/api/v2.0/labels/31' } },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_NEW)}/labels`, body: { id: 31 }, status: 409, response: { errors: [{ code: 'CONFLICT', message: 'label already added' }] } },
      { method: 'POST', path: `/api/v2.0/projects/jail/repositories/team%252Fapp/artifacts?from=${enc(`team/app@${D_NEW}`)}`, status: 201 },
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_NEW)}/tags/v1`, status: 200 },
      // second quarantine in the same project: the label id is cached
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_OLD)}/labels`, body: { id: 31 }, status: 200 },
      { method: 'POST', path: `/api/v2.0/projects/jail/repositories/team%252Fapp/artifacts?from=${enc(`team/app@${D_OLD}`)}`, status: 201 },
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_OLD)}/tags/v0`, status: 200 },
    ]);
    const t = harborTarget({ name: 'harbor', url: h.url, auth: { username: 'robot$team+pushgate', password: 's3cret-robot' }, quarantine: { repositoryPrefix: 'quarantine/', project: 'jail', label: 'held', remove: 'tag' } });
    const e1 = await enforce({ client: noClient, type: 'harbor', harbor: t, repository: 'team/app', digest: D_NEW, tag: 'v1', decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    const e2 = await enforce({ client: noClient, type: 'harbor', harbor: t, repository: 'team/app', digest: D_OLD, tag: 'v0', decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    expect(h.done()).to.deep.equal([]);
    await h.close();
    expect(e1.status, e1.detail).to.equal('done');
    expect(e1.detail).to.include('deleted tag team/app:v1').and.include('jail/team/app');
    expect(e2.status).to.equal('done');
  });

  it('reject deletes the artifact; one already gone (404) counts as done', async () => {
    const h = await replay([
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_NEW)}`, status: 200 },
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_OLD)}`, status: 404, response: { errors: [{ code: 'NOT_FOUND', message: 'artifact not found' }] } },
    ]);
    const t = target(h.url);
    const e1 = await enforce({ client: noClient, type: 'harbor', harbor: t, repository: 'team/app', digest: D_NEW, tag: 'v1', decision: 'reject', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    const e2 = await enforce({ client: noClient, type: 'harbor', harbor: t, repository: 'team/app', digest: D_OLD, tag: 'v1', decision: 'reject', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    expect(h.done()).to.deep.equal([]);
    await h.close();
    expect(e1).to.include({ action: 'delete', status: 'done' });
    expect(e2).to.include({ action: 'delete', status: 'done' });
    expect(e2.detail).to.match(/already gone.*404 NOT_FOUND/);
  });

  it('a refused copy (403) is a failed enforcement that names the missing permission and never the password', async () => {
    const h = await replay([
      { method: 'GET', path: '/api/v2.0/labels?name=quarantined&scope=g', status: 200, response: [{ id: 1, name: 'quarantined', scope: 'g' }] },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_NEW)}/labels`, body: { id: 1 }, status: 200 },
      { method: 'POST', path: `/api/v2.0/projects/quarantine/repositories/team%252Fapp/artifacts?from=${enc(`team/app@${D_NEW}`)}`, status: 403, response: { errors: [{ code: 'FORBIDDEN', message: 'forbidden' }] } },
    ]);
    const e = await enforce({ client: noClient, type: 'harbor', harbor: target(h.url), repository: 'team/app', digest: D_NEW, tag: 'v1', decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    expect(h.done()).to.deep.equal([]);
    await h.close();
    expect(e).to.include({ action: 'quarantine', status: 'failed' });
    expect(e.detail).to.match(/403 FORBIDDEN/).and.match(/permissions/);
    expect(e.detail).to.not.include('s3cret');
  });

  it('restore falls back to copying the last allowed artifact back from the quarantine project', async () => {
    const h = await replay([
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_NEW)}`, status: 200 },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_OLD)}/tags`, body: { name: 'v1' }, status: 404, response: { errors: [{ code: 'NOT_FOUND', message: 'artifact not found' }] } },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts?from=${enc(`quarantine/team/app@${D_OLD}`)}`, status: 201 },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_OLD)}/tags`, body: { name: 'v1' }, status: 201 },
    ]);
    const e = await enforce({ client: noClient, type: 'harbor', harbor: target(h.url), repository: 'team/app', digest: D_NEW, tag: 'v1', decision: 'reject', mode: 'enforce', quarantinePrefix: 'quarantine/', restoreDigest: D_OLD });
    expect(h.done()).to.deep.equal([]);
    await h.close();
    expect(e.detail).to.include('copied back from quarantine/team/app');
  });

  it('release copies back, tags, deletes the quarantined copy; retention deletes and tolerates a copy already gone', async () => {
    const h = await replay([
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts?from=${enc(`quarantine/team/app@${D_NEW}`)}`, status: 201 },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_NEW)}/tags`, body: { name: 'v1' }, status: 201 },
      { method: 'DELETE', path: `/api/v2.0/projects/quarantine/repositories/team%252Fapp/artifacts/${enc(D_NEW)}`, status: 200 },
      { method: 'DELETE', path: `/api/v2.0/projects/quarantine/repositories/team%252Fapp/artifacts/${enc(D_OLD)}`, status: 404, response: { errors: [{ code: 'NOT_FOUND', message: 'gone' }] } },
    ]);
    const t = target(h.url);
    const r = await releaseQuarantined({ client: noClient, type: 'harbor', harbor: t, quarantineRepository: 'quarantine/team/app', digest: D_NEW, repository: 'team/app', tag: 'v1' });
    const gone = await deleteQuarantinedCopy({ client: noClient, type: 'harbor', harbor: t, quarantineRepository: 'quarantine/team/app', digest: D_OLD });
    expect(h.done()).to.deep.equal([]);
    await h.close();
    expect(r).to.include({ action: 'restore', status: 'done' });
    expect(r.writes).to.deep.equal([{ repository: 'team/app', digest: D_NEW, tag: 'v1' }]);
    expect(gone).to.equal(false);
  });

  it('warn and audit modes never call Harbor, whatever the tag', async () => {
    const h = await replay([]);
    for (const [mode, tag] of [['warn', 'v1'], ['audit', 'v1'], ['warn', undefined], ['audit', undefined]] as const) {
      const e = await enforce({ client: noClient, type: 'harbor', harbor: target(h.url), repository: 'team/app', digest: D_NEW, tag, decision: 'quarantine', mode, quarantinePrefix: 'quarantine/' });
      expect(e.status).to.equal('skipped');
    }
    expect(h.done()).to.deep.equal([]);
    await h.close();
  });

  it('pushed by digest (no tag; also proxy-cache pulls): quarantine labels, copies and deletes the artifact, even with remove: tag', async () => {
    for (const remove of ['artifact', 'tag'] as const) {
      const h = await replay([
        { method: 'GET', path: '/api/v2.0/labels?name=quarantined&scope=g', status: 200, response: [{ id: 1, name: 'quarantined', scope: 'g' }] },
        { method: 'POST', path: `/api/v2.0/projects/cache/repositories/library%252Fapp/artifacts/${enc(D_NEW)}/labels`, body: { id: 1 }, status: 200 },
        { method: 'POST', path: `/api/v2.0/projects/quarantine/repositories/cache%252Flibrary%252Fapp/artifacts?from=${enc(`cache/library/app@${D_NEW}`)}`, status: 201 },
        { method: 'DELETE', path: `/api/v2.0/projects/cache/repositories/library%252Fapp/artifacts/${enc(D_NEW)}`, status: 200 },
      ]);
      const writes: unknown[] = [];
      const e = await enforce({ client: noClient, type: 'harbor', harbor: target(h.url, { remove }), repository: 'cache/library/app', digest: D_NEW, decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/', onWrite: (w) => writes.push(w) });
      expect(h.done(), remove).to.deep.equal([]);
      await h.close();
      expect(e).to.include({ action: 'quarantine', status: 'done' });
      expect(e.detail).to.include('pushed by digest');
      expect(writes).to.deep.equal([{ repository: 'quarantine/cache/library/app', digest: D_NEW }]);
    }
  });

  it('pushed by digest: reject deletes the artifact; one an index references (412) is left in place and the index is enforced', async () => {
    const h = await replay([
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_NEW)}`, status: 200 },
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_OLD)}`, status: 412, response: { errors: [{ code: 'PRECONDITION', message: 'the deleting artifact is referenced by others' }] } },
    ]);
    const e1 = await enforce({ client: noClient, type: 'harbor', harbor: target(h.url), repository: 'team/app', digest: D_NEW, decision: 'reject', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    const e2 = await enforce({ client: noClient, type: 'harbor', harbor: target(h.url), repository: 'team/app', digest: D_OLD, decision: 'reject', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    expect(h.done()).to.deep.equal([]);
    await h.close();
    expect(e1).to.include({ action: 'delete', status: 'done' });
    expect(e2.status).to.equal('skipped');
    expect(e2.detail).to.match(/index references it.*412/);
  });

  it('a remembered label id Harbor no longer knows (label deleted) is looked up again once, not retried forever', async () => {
    const h = await replay([
      { method: 'GET', path: '/api/v2.0/labels?name=quarantined&scope=g', status: 200, response: [{ id: 1, name: 'quarantined', scope: 'g' }] },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_NEW)}/labels`, body: { id: 1 }, status: 200 },
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_NEW)}`, status: 200 },
      // an administrator deleted the global label and made a new one: id 1 is gone
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_OLD)}/labels`, body: { id: 1 }, status: 404, response: { errors: [{ code: 'NOT_FOUND', message: 'label 1 not found' }] } },
      { method: 'GET', path: '/api/v2.0/labels?name=quarantined&scope=g', status: 200, response: [{ id: 9, name: 'quarantined', scope: 'g' }] },
      { method: 'POST', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_OLD)}/labels`, body: { id: 9 }, status: 200 },
      { method: 'DELETE', path: `/api/v2.0/projects/team/repositories/app/artifacts/${enc(D_OLD)}`, status: 200 },
    ]);
    const t = harborTarget({ name: 'harbor', url: h.url, auth: { username: 'robot$team+pushgate', password: 's3cret-robot' }, quarantine: { repositoryPrefix: 'quarantine/', project: 'team' } });
    t.api.copyArtifact = async () => undefined; // the copy is not what this test is about
    const e1 = await enforce({ client: noClient, type: 'harbor', harbor: t, repository: 'team/app', digest: D_NEW, decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    const e2 = await enforce({ client: noClient, type: 'harbor', harbor: t, repository: 'team/app', digest: D_OLD, decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    expect(h.done()).to.deep.equal([]);
    await h.close();
    expect([e1.status, e2.status]).to.deep.equal(['done', 'done']);
  });

  it('pushed by digest on Distribution is acted on too (pullable by digest; test/security/digest-pushes.test.ts has the end state)', async () => {
    const e = await enforce({ client: noClient, type: 'distribution', repository: 'team/app', digest: D_NEW, decision: 'reject', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    expect(e.action).to.equal('delete');
    expect(e.status).to.not.equal('skipped');
  });
});
