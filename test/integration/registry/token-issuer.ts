/**
 * A real Docker token issuer for the integration tests, in-process: it signs ES256 JWTs with the lab
 * token server's `signToken` (scripts/lab/token-server.mjs, libtrust `kid` as Distribution 2.8
 * requires) and lets each test choose what to grant, so `insufficient_scope` and the OAuth2 POST
 * variants can be exercised against the real registry's verifier.
 */
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
// @ts-expect-error: plain ESM helper without type declarations
import { signToken, parseScope } from '../../../scripts/lab/token-server.mjs';

export interface IssuerLog {
  method: string;
  scopes: string[];
  user?: string;
  grantType?: string;
  refreshToken?: string;
}

export interface TokenIssuer {
  realm: string;
  certFile: string;
  log: IssuerLog[];
  /** Which actions `user` gets on `name` (default: all requested). */
  grant: (user: string, type: string, name: string, actions: string[]) => string[];
  /** How POST is answered: 405 like Harbor, or the OAuth2 grant. */
  postMode: '405' | 'oauth2';
  /** Users and passwords accepted with Basic (anonymous always allowed). */
  users: Record<string, string>;
  /** refresh token → user */
  refreshTokens: Record<string, string>;
  close(): Promise<void>;
}

/** Creates an ES256 signer key and self-signed certificate with openssl (token-server.mjs header). */
export function makeSigner(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-signer-'))): { key: string; cert: string } {
  const key = path.join(dir, 'signer.key');
  const cert = path.join(dir, 'signer.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=lab-token-signer'], {
    stdio: 'ignore',
  });
  return { key, cert };
}

export async function startIssuer(port: number, signer: { key: string; cert: string }, opts: { ttl?: number } = {}): Promise<TokenIssuer> {
  const privateKeyPem = fs.readFileSync(signer.key);
  const issuer: TokenIssuer = {
    realm: `http://127.0.0.1:${port}/token`,
    certFile: signer.cert,
    log: [],
    grant: (_u, _t, _n, actions) => actions,
    postMode: '405',
    users: {},
    refreshTokens: {},
    close: () => new Promise((r) => server.close(() => r())),
  };
  const issue = (res: http.ServerResponse, user: string, service: string, scopes: string[], field: 'token' | 'access_token') => {
    const access = scopes
      .flatMap((s) => s.split(' '))
      .map((s) => parseScope(s) as { type: string; name: string; actions: string[] } | null)
      .filter((s): s is { type: string; name: string; actions: string[] } => !!s)
      .map((s) => ({ ...s, actions: issuer.grant(user, s.type, s.name, s.actions) }));
    const token = signToken({ privateKeyPem, issuer: 'lab-issuer', audience: service, subject: user, access, ttl: opts.ttl ?? 300 }) as string;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(field === 'token' ? { token, expires_in: opts.ttl ?? 300 } : { access_token: token, expires_in: opts.ttl ?? 300, scope: scopes.join(' ') }));
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const f = new URLSearchParams(body);
        const scopes = (f.get('scope') ?? '').split(' ').filter(Boolean);
        issuer.log.push({ method: 'POST', scopes, grantType: f.get('grant_type') ?? undefined, refreshToken: f.get('refresh_token') ?? undefined });
        if (issuer.postMode === '405') {
          res.writeHead(405).end();
          return;
        }
        const user = f.get('grant_type') === 'refresh_token' ? issuer.refreshTokens[f.get('refresh_token') ?? ''] : undefined;
        if (!user) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
          return;
        }
        issue(res, user, f.get('service') ?? '', scopes, 'access_token');
      });
      return;
    }
    const scopes = u.searchParams.getAll('scope');
    const auth = req.headers.authorization ?? '';
    let user = 'anonymous';
    if (auth.startsWith('Basic ')) {
      const [name, ...rest] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (issuer.users[name] !== rest.join(':')) {
        issuer.log.push({ method: 'GET', scopes, user: name });
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      user = name;
    }
    issuer.log.push({ method: 'GET', scopes, user });
    issue(res, user, u.searchParams.get('service') ?? '', scopes, 'token');
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return issuer;
}
