/**
 * The repository names the registry stores (src/core/names.ts isRegistryRepositoryName, used by the
 * notification intake and the registry client) are exactly those the push proxy's router model takes
 * (src/proxy/route.ts isRepositoryName, checked against the live Distribution 2.8 router), within
 * Distribution's 255 characters: a name the registry stores is never dropped as malformed.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { isRegistryRepositoryName, MAX_REPOSITORY_LENGTH, repositoryNameProblem } from '../../../src/core/names.js';
import { isRepositoryName } from '../../../src/proxy/route.js';
import { validNames } from '../../../src/server/app.js';

describe('core: repository names the registry stores', () => {
  it('examples: a domain-form first component of either case is a name; upper case elsewhere is not', () => {
    for (const n of ['Team/app', 'TEAM.example/app', 'a.B-c.D/x/y', 'lower/app', 'app', 'a/b/c']) expect(isRegistryRepositoryName(n), n).to.equal(true);
    for (const n of ['Team', 'team/App', '-a/x', 'a..b/x', 'a/', '/a', '', `a/${'b'.repeat(MAX_REPOSITORY_LENGTH)}`]) expect(isRegistryRepositoryName(n), n).to.equal(false);
    expect(validNames('Team/app', 'v1')).to.equal(true);
    expect(repositoryNameProblem('Team/app'), 'no client can pull it').to.be.a('string');
  });

  it('property: the same answer as the proxy router model for every name of at most 255 characters', () => {
    const char = fc.constantFrom(...'aAzZ09.-_:/'.split(''));
    const name = fc.oneof(
      fc.array(char, { maxLength: 24 }).map((c) => c.join('')),
      fc.tuple(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.-]{0,8}$/), fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,6}$/), { maxLength: 3 })).map(([f, r]) => [f, ...r].join('/')),
    );
    fc.assert(fc.property(name, (n) => {
      expect(isRegistryRepositoryName(n), n).to.equal(n.length > 0 && n.length <= MAX_REPOSITORY_LENGTH && isRepositoryName(n.split('/')));
    }), { numRuns: 2000 });
  });
});
