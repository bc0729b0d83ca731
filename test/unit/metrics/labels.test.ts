/**
 * Metric labels stay bounded whatever clients send: repository labels only for repositories the
 * registry vouches for, valid names only, folded to metrics.repositoryDepth, at most
 * MAX_REPOSITORY_LABELS values; event actions only as senders define them.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Metrics, MAX_REPOSITORY_LABELS, OTHER_REPOSITORY, UNJUDGED_REPOSITORY, actionLabel, repositoryLabel } from '../../../src/metrics/index.js';
import { isRegistryRepositoryName } from '../../../src/core/names.js';

function blockedSeries(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('pushgate_blocked_pushes_total{'));
}

describe('metrics: bounded labels', () => {
  const table: Array<[string, boolean, number, string]> = [
    ['team/app', true, 0, 'team/app'],
    ['team/app/api', true, 1, 'team'],
    ['team/app/api', true, 2, 'team/app'],
    ['team/app/api', true, 5, 'team/app/api'],
    ['team/app', false, 0, UNJUDGED_REPOSITORY],
    ['Team/App', true, 0, UNJUDGED_REPOSITORY],
    // judged pushes to names the registry stores whose first component is a domain (src/core/names.ts)
    ['Team/app', true, 0, 'Team/app'],
    ['TEAM.example/app/api', true, 1, 'TEAM.example'],
    ['Team', true, 0, UNJUDGED_REPOSITORY],
    ['tëam/app', true, 0, UNJUDGED_REPOSITORY],
    ['team//app', true, 0, UNJUDGED_REPOSITORY],
    ['', true, 0, UNJUDGED_REPOSITORY],
    ['a'.repeat(256), true, 0, UNJUDGED_REPOSITORY],
    ['team/app"} 1\nevil{x="', true, 0, UNJUDGED_REPOSITORY],
  ];
  for (const [repo, judged, depth, want] of table) {
    it(`repositoryLabel(${JSON.stringify(repo.slice(0, 40))}, judged=${judged}, depth=${depth}) = ${want}`, () => {
      expect(repositoryLabel(repo, judged, depth)).to.equal(want);
    });
  }

  it('property: a label is the unjudged value or a valid name of at most `depth` components that prefixes the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[a-z0-9]+(\/[a-z0-9]+){0,5}$/), fc.stringMatching(/^[A-Za-z0-9]+(\.[A-Za-z0-9]+)?(\/[a-z0-9]+){1,4}$/)), fc.boolean(), fc.nat(4), (repo, judged, depth) => {
        const l = repositoryLabel(repo, judged, depth);
        if (l === UNJUDGED_REPOSITORY) return !judged || !isRegistryRepositoryName(repo);
        const components = l.split('/');
        return judged && isRegistryRepositoryName(repo) && components.every((c) => c !== '' && !/[\s"{}\\]/.test(c)) && repo.startsWith(l) && (depth === 0 ? l === repo : components.length <= depth);
      }),
    );
  });

  it('actions senders do not define count as other', () => {
    for (const a of ['push', 'pull', 'delete', 'mount', 'PUSH_ARTIFACT', 'DELETE_ARTIFACT']) expect(actionLabel(a)).to.equal(a);
    for (const a of ['junk-1', 'PUSH', '', 'push ', 'x'.repeat(1000)]) expect(actionLabel(a)).to.equal('other');
  });

  it('blocked pushes of unjudged junk repositories make one series; judged ones one each, never more than the cap', () => {
    const m = new Metrics({ defaultMetrics: false, repositoryDepth: 0 });
    const hooks = m.hooks();
    for (let i = 0; i < 300; i++) hooks.blockedPush!('lab', `junk${i}/made-up`, 'gate-error', 'sync', false);
    return m.text().then(async (t) => {
      expect(blockedSeries(t)).to.have.length(1);
      expect(t).to.include(`repository="${UNJUDGED_REPOSITORY}"`);
      for (let i = 0; i < MAX_REPOSITORY_LABELS + 50; i++) hooks.blockedPush!('lab', `team/app${i}`, 'secrets', 'async', true);
      const t2 = await m.text();
      expect(blockedSeries(t2)).to.have.length(1 + MAX_REPOSITORY_LABELS + 1);
      expect(t2).to.include(`repository="${OTHER_REPOSITORY}"`);
    });
  });

  it('events_received folds made-up actions even when callers pass them raw', async () => {
    const m = new Metrics({ defaultMetrics: false });
    for (let i = 0; i < 100; i++) m.eventsReceived.inc({ source: 'distribution', action: `junk-${i}` });
    m.eventsReceived.inc({ source: 'distribution', action: 'push' });
    const lines = (await m.text()).split('\n').filter((l) => l.startsWith('pushgate_events_received_total{'));
    expect(lines).to.have.length(2);
    expect(lines.join('\n')).to.include('action="other"} 100');
  });
});
