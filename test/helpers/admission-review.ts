/**
 * An AdmissionReview (admission.k8s.io/v1) of a Pod running one image, posted over HTTPS to a real
 * admission listener on loopback (its self-signed certificate is not checked), and its `response`.
 */
import https from 'node:https';

/** The parts of an AdmissionReview response the security suites assert. */
export interface ReviewResponse { allowed: boolean; status?: { message?: string } }

/**
 * A CREATE AdmissionReview of a Pod `p` whose one container `c` runs `image`: in `namespace` (default
 * `default`), by `username` (default `dev`) in `groups` (default `system:authenticated`), a dry run when
 * `dryRun` is set, with the container's `imagePullPolicy` when given.
 */
export function podReview(image: string, o: { namespace?: string; username?: string; groups?: string[]; dryRun?: boolean; imagePullPolicy?: string } = {}): unknown {
  const namespace = o.namespace ?? 'default';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `u-${Math.random().toString(36).slice(2)}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      ...(o.dryRun ? { dryRun: true } : {}),
      userInfo: { username: o.username ?? 'dev', groups: o.groups ?? ['system:authenticated'] },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace }, spec: { containers: [{ name: 'c', image, ...(o.imagePullPolicy ? { imagePullPolicy: o.imagePullPolicy } : {}) }] } },
    },
  };
}

/**
 * Posts a review of a Pod `p` in namespace `default` whose one container runs `image`, as `username`.
 * @throws on a connection error or a body that is not JSON.
 */
export function postPodReview(port: number, image: string, username = 'dev'): Promise<ReviewResponse> {
  const body = JSON.stringify(podReview(image, { username }));
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/admission/validate', method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let s = '';
      res.on('data', (d) => (s += String(d)));
      res.on('end', () => {
        try {
          resolve((JSON.parse(s) as { response: ReviewResponse }).response);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Posts any AdmissionReview `body` to `/admission/validate` over a fresh TLS connection, presenting the
 * client certificate `identity` when given (as the API server does), and answers its `response`.
 * @throws on a failed handshake, a connection error or a body that is not JSON.
 */
export function postReview(port: number, body: unknown, identity: { cert?: Buffer; key?: Buffer } = {}): Promise<ReviewResponse & { warnings?: string[] }> {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/admission/validate?timeout=10s', method: 'POST', agent: false, rejectUnauthorized: false, cert: identity.cert, key: identity.key, headers: { 'content-type': 'application/json', 'content-length': data.length } },
      (res) => {
        let s = '';
        res.on('data', (d) => (s += String(d)));
        res.on('end', () => {
          try {
            resolve((JSON.parse(s) as { response: ReviewResponse & { warnings?: string[] } }).response);
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}
