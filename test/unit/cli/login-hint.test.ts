/**
 * A registry's 401 to `pushgate scan`: the hint says what the user can do next. With
 * `--username USER --password-stdin` the registry refused exactly those credentials, so the hint names
 * them and never suggests passing the flags again; without them it says how to log in.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { PushgateError } from '../../../src/core/index.js';
import { withLoginHint } from '../../../src/cli/registry-client.js';

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
