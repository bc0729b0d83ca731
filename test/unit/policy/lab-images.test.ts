/**
 * DESIGN.md §4: the default policy's decisions on the three lab images, with inputs built as the
 * scanner and vulndb produce them (real image configs, real OSV records, CVSS scored by the library).
 */
import { expect } from 'chai';
import { defaultPolicy, evaluate, type PolicyInput } from '../../../src/policy/index.js';
import { findingFrom, input, labConfig } from './inputs.js';

const BASE_LAYER = 'sha256:4e2a77cd3b0789492d034ad52d9731dd9bb1fe12f44f8e55772fb7183ac9867a';
const ROOT_CHECK = { check: 'runs-as-root', severity: 'medium', message: 'the image runs as root (User not set); set USER to a non-root uid' };

function debianBase(): Pick<PolicyInput, 'findings' | 'packages' | 'config'> {
  return {
    packages: [
      { ecosystem: 'Debian', name: 'apt', version: '2.6.1', purl: 'pkg:deb/debian/apt@2.6.1?arch=amd64', path: '/var/lib/dpkg/status', analyzer: 'os/dpkg', layer: BASE_LAYER },
      { ecosystem: 'Debian', name: 'perl-base', version: '5.36.0-7+deb12u3', sourceName: 'perl', purl: 'pkg:deb/debian/perl-base@5.36.0-7%2Bdeb12u3?arch=amd64', path: '/var/lib/dpkg/status', analyzer: 'os/dpkg', layer: BASE_LAYER },
    ],
    findings: [
      findingFrom('DEBIAN-CL-CVE-2026-109518', { name: 'apt', version: '2.6.1', path: '/var/lib/dpkg/status', layer: BASE_LAYER }),
      findingFrom('DEBIAN-CL-CVE-2026-8376', { name: 'perl-base', version: '5.36.0-7+deb12u3', path: '/var/lib/dpkg/status', layer: BASE_LAYER }),
    ],
    config: [ROOT_CHECK],
  };
}

describe('policy: default policy on the lab images (DESIGN.md §4)', () => {
  const policy = defaultPolicy();

  it('debian-minbase:bookworm → warn (root); its Debian findings have unknown severity and do not block', () => {
    const base = debianBase();
    expect(base.findings.map((f) => f.severity)).to.deep.equal(['unknown', 'unknown']);
    expect(base.findings.every((f) => f.fixedVersions.length > 0)).to.equal(true);
    const ev = evaluate(policy, input({ ...base, imageConfig: labConfig('debian-minbase'), repository: 'lab/debian-minbase', tag: 'bookworm' }));
    expect(ev.decision).to.equal('warn');
    expect(ev.reasons.map((r) => [r.rule, r.action])).to.deep.equal([['runs-as-root', 'warn']]);
    expect(ev.reasons[0].message).to.match(/root/).and.match(/USER/);
    expect(ev.mode).to.equal('enforce');
    expect(ev.policy).to.deep.equal({ name: 'default', revision: policy.revision });
  });

  it('node-app:vuln → reject (private key, AWS keys); lodash 4.17.15 NSWG-NPM-516 is medium and alone would not block', () => {
    const base = debianBase();
    const lodash = findingFrom('NSWG-NPM-516', { name: 'lodash', version: '4.17.15', path: '/app/node_modules/lodash/package.json' });
    expect(lodash.severity).to.equal('medium');
    expect(lodash.fixedVersions).to.deep.equal(['4.17.19']);
    const secrets = [
      { rule: 'private-key', severity: 'critical', path: '/app/.ssh/id_rsa', line: 1, redacted: '-----BEGIN RSA PRIVATE KEY----- (redacted)' },
      { rule: 'aws-access-key-id', severity: 'critical', path: '/app/.env', line: 1, redacted: 'AKIA************MPLE' },
      { rule: 'aws-secret-access-key', severity: 'critical', path: '/app/.env', line: 2, redacted: 'wJal****' },
    ];
    const common = { ...base, findings: [...base.findings, lodash], imageConfig: labConfig('node-app') };
    const ev = evaluate(policy, input({ ...common, secrets }));
    expect(ev.decision).to.equal('reject');
    expect(ev.reasons.map((r) => [r.rule, r.action])).to.deep.equal([
      ['secrets', 'reject'],
      ['runs-as-root', 'warn'],
    ]);
    expect(ev.reasons[0].findings).to.deep.equal(['private-key', 'aws-access-key-id', 'aws-secret-access-key']);
    expect(ev.reasons[0].message).to.include('/app/.ssh/id_rsa').and.include('AKIA************MPLE').and.include('rotate');
    expect(JSON.stringify(ev)).not.to.include('NSWG-NPM-516');
    // Without the secrets the same image is only warned: lodash does not block.
    expect(evaluate(policy, input(common)).decision).to.equal('warn');
  });

  it('adm-zip:0.4.7 → quarantine (NSWG-NPM-458, CVSS 8.2 high, fixed in 0.4.9)', () => {
    const base = debianBase();
    const admZip = findingFrom('NSWG-NPM-458', { name: 'adm-zip', version: '0.4.7', path: '/app/node_modules/adm-zip/package.json' });
    expect(admZip.cvss?.score).to.equal(8.2);
    expect(admZip.severity).to.equal('high');
    const ev = evaluate(policy, input({ ...base, findings: [...base.findings, admZip], imageConfig: labConfig('adm-zip') }));
    expect(ev.decision).to.equal('quarantine');
    expect(ev.reasons.map((r) => [r.rule, r.action])).to.deep.equal([
      ['fixable-high-vulns', 'quarantine'],
      ['runs-as-root', 'warn'],
    ]);
    const r = ev.reasons[0];
    expect(r.findings).to.deep.equal(['NSWG-NPM-458']);
    expect(r.message).to.include('adm-zip 0.4.7').and.include('fixed in 0.4.9').and.include('CVE-2018-1002204').and.include('CVSS 8.2');
    expect(r.items?.[0]).to.include({ package: 'adm-zip', installedVersion: '0.4.7' });
    expect(r.items?.[0].fixedVersions).to.deep.equal(['0.4.9']);
  });

  it('an incomplete scan of the base is quarantined (onIncomplete)', () => {
    const ev = evaluate(
      policy,
      input({
        ...debianBase(),
        imageConfig: labConfig('debian-minbase'),
        complete: false,
        diagnostics: [{ code: 'vulndb-missing', message: 'no vulnerability database', incomplete: true }],
      }),
    );
    expect(ev.decision).to.equal('quarantine');
    expect(ev.reasons[0]).to.include({ rule: 'incomplete-scan', action: 'quarantine' });
    expect(ev.reasons[0].message).to.include('vulndb-missing');
  });
});
