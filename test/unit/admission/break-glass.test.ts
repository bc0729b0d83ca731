import { expect } from 'chai';
import { judgeBreakGlass } from '../../../src/admission/break-glass.js';

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
