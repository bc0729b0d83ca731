/**
 * Helpers for the proxy integration tests. The proxy runs in the test process, so skopeo must run
 * asynchronously (test/helpers/lab.ts `skopeoCopy` uses execFileSync, which would block the
 * event loop the proxy serves on).
 */

export { skopeoCopyAsync, type SkopeoResult } from '../../helpers/lab.js';

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
