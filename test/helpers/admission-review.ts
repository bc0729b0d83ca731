/**
 * An AdmissionReview (admission.k8s.io/v1) of a Pod running one image, posted over HTTPS to a real
 * admission listener on loopback (its self-signed certificate is not checked), and its `response`.
 */
import https from 'node:https';

/** The parts of an AdmissionReview response the security suites assert. */
export interface ReviewResponse { allowed: boolean; status?: { message?: string } }

/**
 * Posts a review of a Pod `p` in namespace `default` whose one container runs `image`, as `username`.
 * @throws on a connection error or a body that is not JSON.
 */
export function postPodReview(port: number, image: string, username = 'dev'): Promise<ReviewResponse> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `u-${Math.random().toString(36).slice(2)}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      operation: 'CREATE',
      userInfo: { username, groups: ['system:authenticated'] },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image }] } },
    },
  });
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
