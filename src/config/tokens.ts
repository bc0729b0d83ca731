/**
 * The rule every static bearer token pushgate accepts must keep: `registries[].webhook.token` and
 * `previousTokens` (notification senders), `api.tokens` (API viewers) and `harborAdapter.tokens` (Harbor's
 * scanner registration). Such a token is compared as a whole, so its only protection is that nobody can
 * guess it: a short one lets anyone post notifications or read the API. Counted after `${VAR}` expansion.
 */

/** Shortest static token accepted, in characters (Unicode code points). */
export const MIN_STATIC_TOKEN_CHARS = 16;

/**
 * What is wrong with `token` as a static bearer token, as a sentence to follow the key's name; undefined
 * when it is long enough. The sentence states the length only, never the token.
 */
export function staticTokenProblem(token: string): string | undefined {
  const n = [...token].length;
  if (n >= MIN_STATIC_TOKEN_CHARS) return undefined;
  return `is ${n} characters; a static token needs at least ${MIN_STATIC_TOKEN_CHARS}, or it can be guessed and then used to post notifications or read the API: generate one with \`openssl rand -hex 32\``;
}
