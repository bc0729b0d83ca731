/**
 * Client authentication of the admission listener as configured: `config check` refuses a listener
 * that would serve anyone unless that is asked for explicitly, and the name check of a client
 * certificate compares CN and subjectAltName entries exactly. The TLS handshakes themselves are
 * tested end to end in test/security/admission-auth.test.ts.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, parseConfigText } from '../../../src/config/load.js';
import { ROOT } from '../../helpers/lab.js';
import { certificateNames, nameAllowed } from '../../../src/server/admission-listener.js';

describe('admission client authentication: config and names', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-clientauth-'));
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) fs.writeFileSync(path.join(dir, f), 'x');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const parse = (admission: string) => parseConfigText(`admission:\n${admission}`, path.join(dir, 'pushgate.yaml'), {});
  const problems = (admission: string): string => {
    try {
      parse(admission);
      return '';
    } catch (e) {
      if (e instanceof ConfigError) return e.message + '\n' + JSON.stringify(e.problems);
      throw e;
    }
  };
  const tls = '  tls: { cert: tls.crt, key: tls.key }\n';

  it('a TLS listener needs clientCA or an explicit allowUnauthenticated: true', () => {
    expect(problems(tls)).to.contain('the admission listener needs admission.clientCA');
    expect(problems(`${tls}  allowUnauthenticated: false\n`)).to.contain('needs admission.clientCA');
    expect(problems(`${tls}  clientCA: ca.crt\n`)).to.equal('');
    expect(problems(`${tls}  allowUnauthenticated: true\n`)).to.equal('');
    const c = parse(`${tls}  clientCA: ca.crt\n  clientNames: [kube-apiserver]\n`);
    expect(c.admission.clientCA).to.equal(path.join(dir, 'ca.crt'));
    expect(c.admission.clientNames).to.deep.equal(['kube-apiserver']);
    // No listener (no tls): nothing to authenticate.
    expect(problems('  unguarded: deny\n')).to.equal('');
  });

  it('refuses contradictions and a missing CA file', () => {
    expect(problems(`${tls}  clientCA: ca.crt\n  allowUnauthenticated: true\n`)).to.contain('contradicts admission.clientCA');
    expect(problems(`${tls}  allowUnauthenticated: true\n  clientNames: [x]\n`)).to.contain('needs admission.clientCA');
    expect(problems(`${tls}  clientCA: missing.crt\n`)).to.contain('does not exist');
  });

  it('reads breakGlass and scanTriggers with defaults, and refuses unknown keys', () => {
    const c = parse(`${tls}  clientCA: ca.crt\n  breakGlass: { groups: [sre] }\n  scanTriggers: { maxPerReview: 4 }\n`);
    expect(c.admission.breakGlass).to.deep.equal({ namespaces: [], groups: ['sre'], users: [] });
    expect(c.admission.scanTriggers).to.deep.equal({ maxPerReview: 4, ratePerSecond: 5, burst: 50 });
    expect(problems(`${tls}  clientCA: ca.crt\n  breakGlass: { roles: [x] }\n`)).to.match(/roles/);
  });

  it('config/pushgate.yaml documents the keys', () => {
    const text = fs.readFileSync(path.join(ROOT, 'config', 'pushgate.yaml'), 'utf8');
    for (const k of ['clientCA', 'clientNames', 'allowUnauthenticated', 'breakGlass', 'groups', 'users', 'scanTriggers', 'maxPerReview', 'ratePerSecond', 'burst']) {
      expect(new RegExp(`(^|[\\s#-])${k}:`, 'm').test(text), k).to.equal(true);
    }
  });

  it('certificateNames reads CN and subjectAltName entries, quoted ones included', () => {
    const n = certificateNames({ subject: 'O=system:masters\nCN=kube-apiserver', subjectAltName: 'DNS:API.example.test, IP Address:10.0.0.1, URI:spiffe://c/ns/x, email:a@b, DNS:"we, ird"' });
    expect(n).to.deep.equal({ cn: ['kube-apiserver'], dns: ['api.example.test', 'we, ird'], other: ['10.0.0.1', 'spiffe://c/ns/x', 'a@b'] });
  });

  it('nameAllowed: exact CN or SAN (DNS case-insensitive); empty list = any', () => {
    const n = certificateNames({ subject: 'CN=kube-apiserver', subjectAltName: 'DNS:api.example.test' });
    expect(nameAllowed(n, [])).to.equal(true);
    expect(nameAllowed(n, ['kube-apiserver'])).to.equal(true);
    expect(nameAllowed(n, ['API.example.test'])).to.equal(true);
    expect(nameAllowed(n, ['kube-apiserver-2', 'example.test'])).to.equal(false);
    expect(nameAllowed(n, ['Kube-apiserver'])).to.equal(false);
    expect(nameAllowed(certificateNames({ subject: 'CN=x', subjectAltName: 'DNS:*.example.test' }), ['a.example.test'])).to.equal(false);
  });
});
