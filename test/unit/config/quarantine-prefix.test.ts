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

/**
 * registries[].quarantine.project (Harbor) names the project quarantined artifacts are copied to
 * (`<project>/<repository>`). A project that is not one repository path component makes every
 * quarantine name invalid, and harborQuarantine deletes an artifact whose quarantine name is invalid:
 * config refuses such a project instead of letting every quarantine become a delete.
 */
describe('config: quarantine.project', () => {
  function checkProject(project: string): string | undefined {
    try {
      parseConfigText(`registries: [{ name: h, url: "http://127.0.0.1:5000", type: harbor, quarantine: { repositoryPrefix: "quarantine/", project: ${JSON.stringify(project)} } }]\n`, '/tmp/pushgate.yaml', {});
      return undefined;
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      return (e as Error).message;
    }
  }
  it('refuses a project that is not one repository path component, naming the key', () => {
    for (const p of ['Quarantine', 'quarantine/', 'a/b', '', 'q z', '-q', 'q-']) {
      const m = checkProject(p);
      expect(m, JSON.stringify(p)).to.be.a('string');
      expect(m).to.include('project');
    }
    expect(checkProject('quarantine')).to.equal(undefined);
  });
  it('accepts exactly the projects that are one path component (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-zA-Z0-9._ /-]{0,8}$/), (project) => {
        expect(checkProject(project) === undefined, JSON.stringify(project)).to.equal(PATH_COMPONENT.test(project));
      }),
      { numRuns: 300 },
    );
  });
});
