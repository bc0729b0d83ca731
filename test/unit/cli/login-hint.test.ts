/**
 * A registry's 401 to `pushgate scan`: the hint says what the user can do next. With
 * `--username USER --password-stdin` the registry refused exactly those credentials, so the hint names
 * them and never suggests passing the flags again; without them it says how to log in. The registry
 * client's advice for `pushgate serve`'s operator (check registries[].auth, the account's rights at the
 * token issuer) is dropped for a registry the configuration does not name, and kept for one it does.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { PushgateError } from '../../../src/core/index.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { withLoginHint } from '../../../src/cli/registry-client.js';
import { TOKEN_HINTS, tokenHint } from '../../../src/registry/auth/token-errors.js';
import { makeSandbox, runInSandbox } from '../../helpers/cli-sandbox.js';
import { oneLine } from '../../helpers/cli.js';

const unauthorized = (host: string) => new PushgateError('UNAUTHORIZED', `registry ${host}: GET manifest team/app:1: 401 UNAUTHORIZED: authentication required`);

describe('cli: the login hint of a 401', () => {
  it('credentials from --username/--password-stdin: names them as refused, suggests nothing already done', () => {
    fc.assert(
      fc.property(fc.constantFrom('127.0.0.1:5000', 'registry.example.test', 'localhost:05000'), fc.string({ minLength: 1, maxLength: 40 }), (host, user) => {
        const e = withLoginHint(unauthorized(host), host, user) as Error;
        expect(e.message).to.include(`${host} refused the credentials given with --username ${JSON.stringify(user)} --password-stdin`);
        expect(e.message).not.to.include('or pass --username');
        expect(e.message).not.to.include('docker login');
      }),
    );
  });

  it('no one-off credentials: says how to log in or pass them', () => {
    const e = withLoginHint(unauthorized('127.0.0.1:5000'), '127.0.0.1:5000') as Error;
    expect(e.message).to.include('log in (docker login 127.0.0.1:5000');
    expect(e.message).to.include('or pass --username USER --password-stdin');
  });

  it('other errors pass unchanged', () => {
    const other = new PushgateError('NETWORK', 'registry h: GET manifest x:1: ECONNREFUSED');
    expect(withLoginHint(other, 'h', 'u')).to.equal(other);
    const notA401 = new PushgateError('UNAUTHORIZED', 'registry h: GET manifest x:1: 403 DENIED');
    expect(withLoginHint(notA401, 'h', 'u')).to.equal(notA401);
  });
});

describe('cli: a 401 of a registry the configuration does not name', function () {
  this.timeout(60_000);

  it('property: the serve operator\'s advice (registries[].auth, token issuer) is dropped unless the registry is configured', () => {
    const codes = fc.constantFrom(undefined, 'invalid_token', 'insufficient_scope', 'denied', 'invalid_grant', 'unauthorized', 'details', 'other');
    fc.assert(
      fc.property(codes, fc.constantFrom(': ', '; '), fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }), fc.boolean(), (code, sep, user, configured) => {
        const advice = tokenHint(code);
        expect(TOKEN_HINTS).to.include(advice);
        const e = new PushgateError('UNAUTHORIZED', `registry 127.0.0.1:5000: GET manifest team/app:1: 401 UNAUTHORIZED: authentication required${sep}${advice}`);
        const m = (withLoginHint(e, '127.0.0.1:5000', user, configured) as Error).message;
        const head = 'registry 127.0.0.1:5000: GET manifest team/app:1: 401 UNAUTHORIZED: authentication required';
        if (configured) expect(m.startsWith(`${head}${sep}${advice}; `), m).to.equal(true);
        else {
          expect(m.startsWith(`${head}; `), m).to.equal(true);
          expect(m).to.not.include(advice);
          expect(m).to.not.include('registries[].auth');
        }
        expect(m).to.include(user === undefined ? 'log in (docker login 127.0.0.1:5000' : `refused the credentials given with --username ${JSON.stringify(user)}`);
      }),
      { numRuns: 300 },
    );
  });

  it('pushgate scan of a registry that answers 401 (Basic): one line, how to log in, no registries[].auth', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="lab"', 'docker-distribution-api-version': 'registry/2.0' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sb = makeSandbox();
    try {
      const line = oneLine(await runInSandbox(sb, ['scan', '-q', `${host}/team/app:1`], { timeoutMs: 60_000 }), 'scan');
      expect(line).to.include('401');
      expect(line).to.include(`to scan ${host}, log in (docker login ${host}`);
      expect(line).to.not.include('registries[].auth').and.not.include('token issuer');
      const refused = oneLine(await runInSandbox(sb, ['scan', '-q', '--username', 'lab', '--password-stdin', `${host}/team/app:1`], { stdin: 'wrong\n', timeoutMs: 60_000 }), 'scan --username');
      expect(refused).to.include(`${host} refused the credentials given with --username "lab" --password-stdin`);
      expect(refused).to.not.include('registries[].auth');
    } finally {
      sb.remove();
      server.close();
    }
  });
});
