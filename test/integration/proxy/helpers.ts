/**
 * Helpers for the proxy integration tests. The proxy runs in the test process, so skopeo must run
 * asynchronously (test/helpers/lab.ts `skopeoCopy` uses execFileSync, which would block the
 * event loop the proxy serves on).
 */
import { execFile } from 'node:child_process';

/** Result of one skopeo run. */
export interface SkopeoResult {
  code: number;
  stderr: string;
}

/** `skopeo copy` over plain HTTP without throwing; resolves with its exit code and stderr. */
export function skopeoCopyAsync(src: string, dst: string, opts: { all?: boolean; creds?: string; srcCreds?: string } = {}): Promise<SkopeoResult> {
  const args = ['copy', '-q', '--dest-tls-verify=false', '--src-tls-verify=false', '--retry-times=0'];
  if (opts.all) args.push('--all');
  if (opts.creds) args.push('--dest-creds', opts.creds);
  if (opts.srcCreds) args.push('--src-creds', opts.srcCreds);
  args.push(src, dst.startsWith('docker://') || dst.startsWith('oci:') ? dst : `docker://${dst}`);
  return new Promise((resolve) => {
    execFile('skopeo', args, { timeout: 120_000 }, (err, _stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stderr });
    });
  });
}

/** The tags of `repository` asked directly from the registry (`[]` when the repository is unknown). */
export async function tagsOf(registryUrl: string, repository: string, auth?: string): Promise<string[]> {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  const r = await fetch(`${registryUrl}/v2/${repository}/tags/list`, { headers });
  if (r.status === 404) return [];
  if (!r.ok) throw new Error(`tags/list ${repository}: ${r.status} ${await r.text()}`);
  const body = (await r.json()) as { tags: string[] | null };
  return body.tags ?? [];
}
