/**
 * `pushgate scan --insecure` with credentials for a registry that answers TLS: they are still sent (as
 * Docker and Trivy do for an insecure registry), to a server whose certificate is not verified. Verifying
 * the token realm does not protect them (the unverified server names the realm, or asks for Basic
 * credentials itself), so the user is told, once, on stderr; the password is never printed. Without
 * credentials, or for a loopback host, nothing is said.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { clientForHost, INSECURE_CREDENTIALS_NOTE, insecureFallback } from '../../../src/cli/registry-client.js';
import { defaultConfig } from '../../../src/config/load.js';

describe('cli: scan --insecure says where credentials go unverified', () => {
  const config = defaultConfig();
  const host = fc.tuple(fc.domain(), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
    .filter(([d]) => d !== 'localhost' && !d.endsWith('.localhost'))
    .map(([d, port]) => (port === undefined ? d : `${d}:${port}`));
  /** How the probe of the kept TLS client ends: it answered, or it failed in a way that is not plain HTTP. */
  const probe = fc.constantFrom<() => Promise<unknown>>(
    async () => undefined,
    async () => { throw Object.assign(new Error('registry x: GET /v2/: 401'), { code: 'UNAUTHORIZED' }); },
    async () => { throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }); },
  );

  it('a kept TLS client with credentials is named once on stderr (never the password); without credentials nothing is said', async () => {
    await fc.assert(
      fc.asyncProperty(host, probe, fc.boolean(), fc.string({ minLength: 8, maxLength: 40 }).filter((p) => p.trim().length >= 8), async (h, pr, withCreds, password) => {
        const warned: string[] = [];
        const client = clientForHost(config, h, { insecure: true, ...(withCreds ? { oneOff: { username: 'u', password } } : {}) });
        const out = await insecureFallback(config, h, client, { warn: (l) => warned.push(l), probe: pr });
        expect(out).to.equal(client);
        if (!withCreds) return void expect(warned).to.deep.equal([]);
        expect(warned).to.deep.equal([INSECURE_CREDENTIALS_NOTE(h)]);
        expect(warned[0]).to.include(`${h}'s TLS certificate is not verified`).and.include('NODE_EXTRA_CA_CERTS');
        expect(warned[0]).to.not.include(password);
      }),
      { numRuns: 60 },
    );
  });

  it('a loopback registry (read over plain HTTP anyway) gets no note', async () => {
    for (const h of ['localhost:5000', '127.0.0.1:5000', '[::1]:5000']) {
      const warned: string[] = [];
      const client = clientForHost(config, h, { insecure: true, oneOff: { username: 'u', password: 'secret-password' } });
      await insecureFallback(config, h, client, { warn: (l) => warned.push(l), probe: async () => undefined });
      expect(warned, h).to.deep.equal([]);
    }
  });
});
