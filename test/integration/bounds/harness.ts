/**
 * Shared pieces of the bounds suites and the soak run (bench/soak.ts): a `pushgate serve` child
 * with every listener (API/webhooks, proxy in front of a real registry, admission over mTLS), its
 * configuration, certificates made with openssl, raw-socket clients that send slowly, and the
 * figures they read (process RSS from /proc, /metrics series).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';

/** A TLS identity (PEM). */
export interface Identity {
  cert: Buffer;
  key: Buffer;
}

/** Files and identities of {@link makeMtls}. */
export interface Mtls {
  caFile: string;
  serverCert: string;
  serverKey: string;
  /** The API server's client certificate (CN kube-apiserver, clientAuth). */
  client: Identity;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate (CN kube-apiserver) in `dir`. */
export function makeMtls(dir: string): Mtls {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=bounds-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', 'ca.key', '-out', 'ca.crt']);
  const leaf = (name: string, cn: string, ext: string): void => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...ec, '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  };
  leaf('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'kube-apiserver', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  return {
    caFile: path.join(dir, 'ca.crt'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
    client: { cert: fs.readFileSync(path.join(dir, 'client.crt')), key: fs.readFileSync(path.join(dir, 'client.key')) },
  };
}

/** What {@link serveConfig} writes. */
export interface ServeOptions {
  dir: string;
  apiPort: number;
  proxyPort?: number;
  admissionPort?: number;
  mtls?: Mtls;
  registryUrl: string;
  /** pushgate's own registry credentials (`user:pass`). */
  registryCreds?: string;
  webhookToken: string;
  apiToken?: string;
  storeUrl?: string;
  extra?: { readTimeout?: string; bodyLimit?: string; bodyTimeout?: string; maxHeldManifests?: number; repositoryDepth?: number; workers?: number; logLevel?: string };
}

/** Writes `<dir>/pushgate.yaml` for a serve child and returns its path. */
export function serveConfig(o: ServeOptions): string {
  const x = o.extra ?? {};
  const [user, pass] = (o.registryCreds ?? '').split(':');
  const lines = [
    'server:',
    `  listen: 127.0.0.1:${o.apiPort}`,
    `  readTimeout: ${x.readTimeout ?? '30s'}`,
    `  bodyLimit: ${x.bodyLimit ?? '4MiB'}`,
    'metrics:',
    `  repositoryDepth: ${x.repositoryDepth ?? 0}`,
    'log:',
    `  level: ${x.logLevel ?? 'error'}`,
    'store:',
    `  url: ${o.storeUrl ?? `sqlite:${o.dir}/pushgate.db`}`,
    'vulndb:',
    `  path: ${o.dir}/vulndb.sqlite`,
    '  sources: []',
    'scan:',
    `  workers: ${x.workers ?? 2}`,
    `  tmpDir: ${o.dir}/tmp`,
    'registries:',
    '  - name: lab',
    `    url: ${o.registryUrl}`,
    ...(o.registryCreds ? ['    auth:', `      username: ${user}`, `      password: ${pass}`] : []),
    '    webhook:',
    `      token: ${o.webhookToken}`,
  ];
  if (o.apiToken) lines.push('api:', `  tokens: [${o.apiToken}]`);
  if (o.proxyPort) {
    lines.push('proxy:', `  listen: 127.0.0.1:${o.proxyPort}`, `  upstream: ${o.registryUrl}`, '  timeout: 60s', `  bodyTimeout: ${x.bodyTimeout ?? '30s'}`, `  maxHeldManifests: ${x.maxHeldManifests ?? 16}`);
  }
  if (o.admissionPort && o.mtls) {
    lines.push('admission:', `  listen: 127.0.0.1:${o.admissionPort}`, '  tls:', `    cert: ${o.mtls.serverCert}`, `    key: ${o.mtls.serverKey}`, `  clientCA: ${o.mtls.caFile}`, '  clientNames: [kube-apiserver]', '  unguarded: allow');
  }
  const file = path.join(o.dir, 'pushgate.yaml');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Resident set size of process `pid`, bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** MiB with one decimal, for printed figures. */
export function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** Prometheus text of `url` (`http://127.0.0.1:PORT/metrics`). */
export async function scrape(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
  return r.text();
}

/** The sample lines (series) of `name` in Prometheus text. */
export function series(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

/** A response read off a raw socket. */
export interface RawReply {
  /** Status code, or 0 when the connection closed without a response. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** ms from the first byte sent to the response's first byte (or to the close). */
  ms: number;
  /** Body bytes the client managed to write before the answer or the close. */
  sent: number;
  /** True when the server closed the connection after (or instead of) answering. */
  closed: boolean;
  /** Interim `100 Continue` seen. */
  continued: boolean;
}

/**
 * Sends `head` (request line and headers, without the blank line) on a fresh connection, then a
 * body of `bodyBytes` bytes in `chunk`-byte pieces every `everyMs` (never finishing when
 * `holdLast` is set, so the body stays incomplete), and reads the first final response.
 * Resolves when a final response has arrived whole (Content-Length) or the connection closed,
 * or after `giveUpMs` (status 0).
 */
export function slowRequest(
  port: number,
  head: string,
  opts: {
    bodyBytes: number;
    chunk: number;
    everyMs: number;
    holdLast?: boolean;
    giveUpMs?: number;
    tls?: Identity;
    waitForContinue?: boolean;
    /** Send `count` chunks of `size` bytes in chunked transfer coding instead (head must say so). */
    chunked?: { size: number; count: number; everyMs: number };
  },
): Promise<RawReply> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let sent = 0;
    let buf = Buffer.alloc(0);
    let done = false;
    let continued = false;
    let firstAt = 0;
    let timer: NodeJS.Timeout | undefined;
    const sock: net.Socket = opts.tls
      ? tls.connect({ host: '127.0.0.1', port, cert: opts.tls.cert, key: opts.tls.key, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(giveUp);
      const text = buf.toString('latin1');
      let parsed = parseResponse(text);
      if (parsed && parsed.status === 100) parsed = parseResponse(text.slice(text.indexOf('\r\n\r\n') + 4));
      sock.destroy();
      resolve({ status: parsed?.status ?? 0, headers: parsed?.headers ?? {}, body: parsed?.body ?? '', ms: (firstAt || Date.now()) - t0, sent, closed, continued });
    };
    const giveUp = setTimeout(() => finish(false), opts.giveUpMs ?? 60_000);
    const pump = (): void => {
      if (done || sock.destroyed) return;
      const left = opts.bodyBytes - sent - (opts.holdLast ? 1 : 0);
      if (left <= 0) {
        clearInterval(timer);
        return;
      }
      const n = Math.min(opts.chunk, left);
      sock.write(Buffer.alloc(n, 0x20));
      sent += n;
    };
    sock.once(opts.tls ? 'secureConnect' : 'connect', () => {
      sock.write(`${head}\r\n\r\n`);
      if (opts.chunked) {
        const { size, count, everyMs } = opts.chunked;
        let k = 0;
        timer = setInterval(() => {
          if (done || sock.destroyed || k >= count) return clearInterval(timer);
          k++;
          sock.write(`${size.toString(16)}\r\n`);
          sock.write(Buffer.alloc(size, 0x20));
          sock.write('\r\n');
          sent += size;
        }, everyMs);
        return;
      }
      if (opts.waitForContinue) return;
      pump();
      timer = setInterval(pump, opts.everyMs);
    });
    sock.on('data', (d: Buffer) => {
      if (!firstAt) firstAt = Date.now();
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      if (/^HTTP\/1\.1 100 /.test(text) && !continued) {
        continued = true;
        firstAt = 0;
        if (opts.waitForContinue) {
          pump();
          timer = setInterval(pump, opts.everyMs);
        }
      }
      let p = parseResponse(text);
      if (p && p.status === 100) p = parseResponse(text.slice(text.indexOf('\r\n\r\n') + 4));
      if (p && p.status !== 100 && p.complete) finish(false);
    });
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
  });
}

function parseResponse(text: string): { status: number; headers: Record<string, string>; body: string; complete: boolean } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [line, ...rest] = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(line ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const h of rest) {
    const i = h.indexOf(':');
    if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const body = text.slice(end + 4);
  const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  return { status: Number(m[1]), headers, body: len !== undefined ? body.slice(0, len) : body, complete: len === undefined ? Number(m[1]) === 100 : body.length >= len };
}

/** `Authorization: Basic` value of `user:pass`. */
export function basic(creds: string): string {
  return `Basic ${Buffer.from(creds).toString('base64')}`;
}

/** An AdmissionReview (v1) of a Pod in namespace `ns` running `images`. */
export function podReview(uid: string, images: string[], ns = 'team-a'): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: ns,
      operation: 'CREATE',
      userInfo: { username: 'dev', groups: ['system:authenticated'] },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: ns }, spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } },
    },
  };
}

/** POSTs a review over mTLS; resolves with the status and parsed body. */
export function postReview(port: number, who: Identity, body: unknown): Promise<{ status: number; body: { response?: { allowed?: boolean; status?: { message?: string } } } }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = https.request(
      { host: '127.0.0.1', port, path: '/admission/validate?timeout=10s', method: 'POST', agent: false, rejectUnauthorized: false, cert: who.cert, key: who.key, headers: { 'content-type': 'application/json', 'content-length': data.length } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) as never });
          } catch (e) {
            reject(e as Error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
