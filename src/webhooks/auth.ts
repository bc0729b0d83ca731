/**
 * Sender authentication for notifications. Distribution sends static headers
 * (`Authorization: [Bearer <token>]` in its endpoint config) and Harbor sends its policy's
 * `auth_header` verbatim; neither signs bodies (protocols.md §1.2, §2.2). The token identifies the
 * sender: it is `registries[].webhook.token`.
 */
import { findSecret } from '../core/secret-equal.js';

/**
 * Finds the registry whose `webhook.token` (or one of its `webhook.previousTokens`, kept while a rotation is
 * under way) the request presents, in constant time per candidate (both sides are hashed to equal length,
 * every token of every registry is compared). Accepts `Authorization: Bearer <token>` (scheme
 * case-insensitive) and, for Harbor policies whose `auth_header` is the bare secret, the whole header value.
 * @returns the registry name and whether a previous token matched, or undefined (→ HTTP 401) when the header
 *   is missing or matches none.
 */
export function identifySender(
  authorization: string | undefined,
  registries: Array<{ name: string; webhook: { token?: string; previousTokens?: string[] } }>,
): { registry: string; previous: boolean } | undefined {
  if (!authorization) return undefined;
  const value = authorization.trim();
  const m = /^bearer\s+(.+)$/i.exec(value);
  const presented = m ? m[1].trim() : value;
  const owners: Array<{ registry: string; previous: boolean }> = [];
  const tokens: Array<string | undefined> = [];
  for (const r of registries) {
    [r.webhook?.token, ...(r.webhook?.previousTokens ?? [])].forEach((token, i) => {
      owners.push({ registry: r.name, previous: i > 0 });
      tokens.push(token);
    });
  }
  const i = findSecret(presented, tokens);
  return i >= 0 ? owners[i] : undefined;
}

/**
 * {@link identifySender}, the registry name only.
 * @returns the registry name, or undefined (→ HTTP 401) when the header is missing or matches none.
 */
export function authenticateSender(
  authorization: string | undefined,
  registries: Array<{ name: string; webhook: { token?: string; previousTokens?: string[] } }>,
): string | undefined {
  return identifySender(authorization, registries)?.registry;
}
