/**
 * registries[].quarantine.repositoryPrefix is joined to repository names and matched with startsWith, so
 * config accepts only whole repository path components ending in "/": `quarantine` would also claim
 * `quarantined/app`, and `Quarantine/` names no repository the registry accepts.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ConfigError, parseConfigText } from '../../../src/config/load.js';
import { PATH_COMPONENT } from '../../../src/core/names.js';

function check(prefix: string): string | undefined {
  try {
    parseConfigText(`registries: [{ name: a, url: "http://127.0.0.1:5000", type: distribution, quarantine: { repositoryPrefix: ${JSON.stringify(prefix)} } }]\n`, '/tmp/pushgate.yaml', {});
    return undefined;
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as Error).message;
  }
}

describe('config: quarantine.repositoryPrefix', () => {
  it('accepts whole path components ending in "/"', () => {
    for (const p of ['quarantine/', 'q/', 'sec/quarantine/', 'quarantine-zone/', 'a.b_c/']) expect(check(p), p).to.equal(undefined);
  });
  it('refuses a prefix that does not end in "/" or is not made of repository path components, naming the key', () => {
    for (const p of ['quarantine', 'Quarantine/', '/quarantine/', 'quarantine//', 'quar antine/', '-q/', 'q/-x/']) {
      const m = check(p);
      expect(m, p).to.be.a('string');
      expect(m).to.include('repositoryPrefix');
    }
  });
  it('accepts exactly the prefixes made of valid components each followed by "/" (property)', () => {
    const comp = fc.stringMatching(/^[a-zA-Z0-9._ -]{1,6}$/);
    fc.assert(
      fc.property(fc.array(comp, { minLength: 1, maxLength: 3 }), fc.boolean(), (comps, slash) => {
        const prefix = comps.join('/') + (slash ? '/' : '');
        const valid = slash && comps.every((c) => PATH_COMPONENT.test(c));
        expect(check(prefix) === undefined, prefix).to.equal(valid);
      }),
      { numRuns: 200 },
    );
  });
});
