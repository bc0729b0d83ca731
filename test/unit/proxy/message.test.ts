import { expect } from 'chai';
import type { Finding, ScanReport, Verdict } from '../../../src/core/index.js';
import { refusalError, refusedIndexError, warningHeader, worstFindings } from '../../../src/proxy/message.js';
import { parseManifestPut, actorOf } from '../../../src/proxy/manifest-gate.js';
import { parseListen, upstreamRegistry } from '../../../src/proxy/proxy.js';
import { rewriteLocation, makeUpstream } from '../../../src/proxy/forward.js';
import { proxyTestConfig } from './config.js';
import type http from 'node:http';

const D = `sha256:${'ab'.repeat(32)}`;
const f = (id: string, severity: Finding['severity'], score: number | undefined, fixed: string[], pkg = 'p'): Finding => ({
  id, aliases: [], ecosystem: 'npm', package: pkg, installedVersion: '1.0.0', fixedVersions: fixed, severity,
  cvss: score === undefined ? undefined : { score, vector: 'x', version: '3.1' }, path: '/x',
});
const verdict = (reasons: Verdict['reasons'], decision: Verdict['decision'] = 'quarantine'): Verdict => ({
  registry: 'lab', repository: 'team/app', digest: D, tags: ['1'], decision, complete: true, reasons, mode: 'enforce',
  policy: { name: 'p', revision: '1' }, vulndb: { builtAt: null }, evaluatedAt: '2026-01-01T00:00:00Z',
});
const report = (findings: Finding[]): ScanReport => ({
  target: 't', packages: [], findings, secrets: [], config: [], diagnostics: [], complete: true,
  verdict: { decision: 'quarantine', reasons: [], policy: { name: 'p', revision: '1' }, complete: true }, scannedAt: 'x',
});

describe('proxy refusal messages', () => {
  it('names rules, the worst findings with fixed versions, and the report, on one line', () => {
    const v = verdict([
      { rule: 'fixable-high-vulns', action: 'quarantine', message: 'm', findings: ['A', 'B', 'C', 'D'] },
      { rule: 'runs-as-root', action: 'warn', message: 'root' },
    ]);
    const rep = report([f('A', 'high', 7.5, ['2.0.0'], 'a'), f('B', 'critical', 9.8, ['3.0.0'], 'b'), f('C', 'high', 8.2, ['1.0.1'], 'c'), f('D', 'medium', 5, [], 'd'), f('E', 'critical', 10, [], 'e')]);
    const e = refusalError({ repository: 'team/app', tag: '1', digest: D, verdict: v, report: rep, reportUrl: 'http://h:8080/api/v1/images/' + D });
    expect(e.code).to.equal('DENIED');
    expect(e.message).to.equal(
      `pushgate refused team/app:1 (quarantine); rules fixable-high-vulns; worst: B b 1.0.0 (critical, fixed in 3.0.0), C c 1.0.0 (high, fixed in 1.0.1), A a 1.0.0 (high, fixed in 2.0.0) and 2 more; report: http://h:8080/api/v1/images/${D}`,
    );
    expect(e.message).to.not.include('\n');
    expect(e.message).to.not.include('runs-as-root');
  });

  it('names the recommended base when base findings caused the refusal, and only then', () => {
    const v = verdict([{ rule: 'fixable-high-vulns', action: 'quarantine', message: 'm', findings: ['A'] }]);
    const zero = { unknown: 0, negligible: 0, low: 0, medium: 0, high: 0, critical: 0 };
    const bases = [{ method: 'chain' as const, repository: 'lab/debian', tags: ['12.8'], layers: [], note: 'n', recommendations: [{ kind: 'update' as const, repository: 'lab/debian', tag: '12.9-slim', digest: D as never, summary: { counts: { ...zero, medium: 2 }, fixable: zero } }] }];
    const fromBase = { ...report([{ ...f('A', 'high', 7.5, ['2']), origin: 'base' as const }]), bases };
    const e = refusalError({ repository: 'team/app', tag: '1', digest: D, verdict: v, report: fromBase, reportUrl: 'u' });
    expect(e.message).to.include('; rebuild on lab/debian:12.9-slim: 0 high, 2 medium; report: u');
    expect((e.detail as { recommendation?: { tag: string } }).recommendation?.tag).to.equal('12.9-slim');
    const fromApp = { ...report([{ ...f('A', 'high', 7.5, ['2']), origin: 'app' as const }]), bases };
    expect(refusalError({ repository: 'team/app', tag: '1', digest: D, verdict: v, report: fromApp, reportUrl: 'u' }).message).to.not.include('rebuild on');
  });

  it('quotes the first blocking reason when no finding explains the refusal, and names the digest without a tag', () => {
    const v = verdict([{ rule: 'secrets', action: 'reject', message: 'private key in\n/etc/key.pem' }], 'reject');
    const e = refusalError({ repository: 'team/app', digest: D, verdict: v, report: report([]), reportUrl: 'u', platform: 'linux/arm64/v8' });
    expect(e.message).to.equal('pushgate refused team/app@sha256:abababababab for linux/arm64/v8 (reject); rules secrets; private key in /etc/key.pem; report: u');
  });

  it('orders findings by severity, then CVSS, then having a fix; all findings when no reason names any', () => {
    const v = verdict([{ rule: 'r', action: 'reject', message: 'm' }]);
    const ids = worstFindings(v, report([f('x', 'high', undefined, []), f('y', 'high', undefined, ['1']), f('z', 'low', 9, ['1']), f('w', 'high', 7, [])])).map((x) => x.id);
    expect(ids).to.deep.equal(['w', 'y', 'x']);
  });

  it('names every refused platform of an index', () => {
    const e = refusedIndexError('team/app', '1', D, [{ digest: D, platform: 'linux/arm64/v8', rules: ['secrets'] }], 'u');
    expect(e.message).to.equal('pushgate refused index team/app:1: platform linux/arm64/v8 (sha256:abababababab, rules secrets) refused; fix or drop that image; report: u');
  });

  it('builds an ASCII Warning header for warn verdicts and none without reasons', () => {
    const h = warningHeader(verdict([{ rule: 'runs-as-root', action: 'warn', message: 'runs as "root" — set USER' }], 'warn'));
    expect(h).to.equal(`299 pushgate "pushgate warns: runs-as-root: runs as 'root' ? set USER"`);
    expect(warningHeader(verdict([], 'allow'))).to.equal(undefined);
  });
});

describe('proxy parsing helpers', () => {
  it('recognizes manifest PUTs only', () => {
    expect(parseManifestPut('PUT', '/v2/team/sub/app/manifests/v1.2?x=1')).to.deep.equal({ name: 'team/sub/app', reference: 'v1.2', target: '/v2/team/sub/app/manifests/v1.2?x=1' });
    expect(parseManifestPut('PUT', `/v2/a/manifests/${D}`)).to.deep.equal({ name: 'a', reference: D, target: `/v2/a/manifests/${D}` });
    expect(parseManifestPut('GET', '/v2/a/manifests/1')).to.equal(undefined);
    expect(parseManifestPut('PUT', '/v2/a/blobs/uploads/x')).to.equal(undefined);
    expect(parseManifestPut('PUT', '/v2/a/manifests/')).to.equal(undefined);
  });

  it('parses listen addresses and rejects bad ones', () => {
    expect(parseListen('127.0.0.1:5443')).to.deep.equal({ host: '127.0.0.1', port: 5443 });
    expect(parseListen('[::1]:0')).to.deep.equal({ host: '::1', port: 0 });
    expect(parseListen(':80')).to.deep.equal({ host: '0.0.0.0', port: 80 });
    expect(() => parseListen('host:99999')).to.throw(/proxy.listen/);
    expect(() => parseListen('nohost')).to.throw(/proxy.listen/);
  });

  it('finds the upstream among registries and says which urls exist when it is not one', () => {
    const c = proxyTestConfig('http://127.0.0.1:5000/', { listen: ':0' });
    expect(upstreamRegistry(c).name).to.equal('lab');
    c.proxy.upstream = 'http://other:5000';
    expect(() => upstreamRegistry(c)).to.throw(/proxy.upstream: http:\/\/other:5000 is not the url of any registries\[\] entry \(http:\/\/127.0.0.1:5000\/\)/);
  });

  it('makes Locations pointing at the upstream relative, leaves others alone', () => {
    const up = makeUpstream(proxyTestConfig('http://127.0.0.1:5000', { listen: ':0' }).registries[0]!);
    expect(rewriteLocation('http://127.0.0.1:5000/v2/a/blobs/uploads/u?_state=s', up)).to.equal('/v2/a/blobs/uploads/u?_state=s');
    expect(rewriteLocation('/v2/a/blobs/uploads/u', up)).to.equal('/v2/a/blobs/uploads/u');
    expect(rewriteLocation('https://s3.test/bucket/blob?sig=1', up)).to.equal('https://s3.test/bucket/blob?sig=1');
    up.agent.destroy();
  });

  it('takes the actor from Basic or the JWT sub, never the secret', () => {
    const req = (authorization?: string): http.IncomingMessage => ({ headers: { authorization }, socket: { remoteAddress: '10.1.1.1' } }) as unknown as http.IncomingMessage;
    expect(actorOf(req(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`))).to.equal('alice');
    const jwt = `x.${Buffer.from(JSON.stringify({ sub: 'bob' })).toString('base64url')}.sig`;
    expect(actorOf(req(`Bearer ${jwt}`))).to.equal('bob (token)');
    expect(actorOf(req())).to.equal('unknown@10.1.1.1');
    expect(actorOf(req('Bearer garbage'))).to.equal('unknown@10.1.1.1');
  });
});
