import { expect } from 'chai';
import fc from 'fast-check';
import { breakGlassWarnings, judgeBreakGlass } from '../../../src/admission/break-glass.js';

const CFG = { namespaces: ['incident-*', 'hotfix'], groups: ['sre'], users: ['root@example.test'] };

describe('admission/break-glass judgeBreakGlass', () => {
  // [annotation, request.namespace, username, groups, config, expected kind]
  const table: Array<[string | undefined, string, string, string[], typeof CFG | undefined, 'absent' | 'honoured' | 'refused']> = [
    [undefined, 'incident-1', 'root@example.test', [], CFG, 'absent'],
    ['', 'incident-1', 'root@example.test', [], CFG, 'absent'],
    ['INC', 'incident-1', 'root@example.test', [], CFG, 'honoured'],
    ['INC', 'incident-1', 'bob', ['sre'], CFG, 'honoured'],
    ['INC', 'hotfix', 'bob', ['x', 'sre'], CFG, 'honoured'],
    ['INC', 'team-a', 'root@example.test', ['sre'], CFG, 'refused'], // namespace not listed
    ['INC', 'hotfix-2', 'bob', ['sre'], CFG, 'refused'],
    ['INC', '', 'bob', ['sre'], CFG, 'refused'], // no request.namespace: never from the object
    ['INC', 'incident-1', 'bob', ['SRE', 'sre '], CFG, 'refused'], // exact group names
    ['INC', 'incident-1', 'ROOT@example.test', [], CFG, 'refused'], // exact user names
    ['INC', 'incident-1', '', [], CFG, 'refused'],
    ['INC', 'incident-1', 'root@example.test', [], undefined, 'refused'], // off by default
    ['INC', 'incident-1', 'root@example.test', [], { namespaces: [], groups: [], users: [] }, 'refused'],
    ['INC', 'anything', 'bob', ['sre'], { namespaces: [], groups: ['sre'], users: [] }, 'honoured'], // who only
    ['INC', 'incident-1', 'anyone', [], { namespaces: ['incident-*'], groups: [], users: [] }, 'honoured'], // namespace only
    ['INC', 'team-a', 'anyone', [], { namespaces: ['incident-*'], groups: [], users: [] }, 'refused'],
  ];
  for (const [annotation, namespace, username, groups, cfg, kind] of table) {
    it(`${JSON.stringify(annotation)} by ${JSON.stringify(username)} ${JSON.stringify(groups)} in ${JSON.stringify(namespace)} → ${kind}`, () => {
      const d = judgeBreakGlass(annotation, { namespace, userInfo: { username, groups } }, cfg);
      expect(d.kind).to.equal(kind);
      if (d.kind === 'refused') expect(d.why).to.match(/admission\.breakGlass/);
    });
  }

  it('ignores userInfo fields of the wrong type', () => {
    expect(judgeBreakGlass('x', { namespace: 'hotfix', userInfo: { username: ['root@example.test'], groups: 'sre' } }, CFG).kind).to.equal('refused');
    expect(judgeBreakGlass('x', { namespace: 7, userInfo: { username: 'root@example.test' } }, CFG).kind).to.equal('refused');
  });
});

describe('admission/break-glass breakGlassWarnings', () => {
  // The identities under which the kube-controller-manager creates other people's Pods and
  // ReplicaSets: a per-controller service account (the default, --use-service-account-credentials),
  // or the controller-manager's own user.
  const CONTROLLERS = [
    { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
    { username: 'system:serviceaccount:kube-system:job-controller', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
    { username: 'system:kube-controller-manager', groups: ['system:authenticated'] },
  ];
  const ordinary = fc.constantFrom('sre', 'oncall', 'platform-admins', 'alice@example.test', 'system:masters', 'system:serviceaccount:ops:breaker', 'oidc:sre');
  const wide = fc.constantFrom('system:authenticated', 'system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:serviceaccount:kube-system:replicaset-controller', 'system:serviceaccount:kube-system:deployment-controller', 'system:kube-controller-manager');

  it('property: whenever a configuration honours a controller\'s review, it is warned about; ordinary names never are', () => {
    let honoured = 0;
    fc.assert(
      fc.property(fc.array(fc.oneof(ordinary, wide), { maxLength: 5 }), fc.array(fc.oneof(ordinary, wide), { maxLength: 5 }), (groups, users) => {
        const cfg = { namespaces: [], groups, users };
        const warnings = breakGlassWarnings(cfg);
        const controllerHonoured = CONTROLLERS.some((userInfo) => judgeBreakGlass('INC', { namespace: 'team-a', userInfo }, cfg).kind === 'honoured');
        if (controllerHonoured) {
          honoured++;
          expect(warnings, JSON.stringify(cfg)).to.not.deep.equal([]);
        }
        const onlyOrdinary = [...groups, ...users].every((n) => !n.startsWith('system:') || n === 'system:masters');
        if (onlyOrdinary) expect(warnings, JSON.stringify(cfg)).to.deep.equal([]);
        for (const w of warnings) expect(w).to.match(/^admission\.breakGlass\.(groups|users): "[^"]+" .*namespaces for workloads$/);
      }),
      { numRuns: 300 },
    );
    expect(honoured).to.be.greaterThan(50);
  });

  it('off, or namespaces only: no warning', () => {
    expect(breakGlassWarnings(undefined)).to.deep.equal([]);
    expect(breakGlassWarnings({ namespaces: ['incident-*'], groups: [], users: [] })).to.deep.equal([]);
  });
});
