/**
 * What `api.jwt` must say before pushgate accepts a token signed with it.
 *
 * - `publicKey` (RS256/ES256): an identity provider signs the tokens of every service it serves with one
 *   key, so the signature proves only "this IdP issued it", not "for pushgate". Without `audience`, a token
 *   the IdP minted for another application (whose own `role`/`roles` claim may well say `admin`) would
 *   be an admin token here. `audience` is required; tokens without that `aud` are refused (RFC 7519
 *   §4.1.3: a recipient that does not identify itself with a value in `aud` MUST reject the token).
 * - `secret` (HS256): at least {@link MIN_HS256_SECRET_BYTES} bytes (RFC 7518 §3.2: a key of the same size
 *   as the hash output or larger MUST be used). A short secret is recovered offline from any one token
 *   (a viewer's, a log line), and then signs admin tokens.
 */

/** Shortest HS256 secret accepted, bytes (UTF-8): the SHA-256 output size. */
export const MIN_HS256_SECRET_BYTES = 32;

/** The fields of `api.jwt` the rules read. */
export interface JwtSettings {
  secret?: string;
  publicKey?: string;
  audience?: string;
}

/**
 * The first rule `jwt` breaks, as the key it concerns and a sentence saying what to set; undefined
 * when it breaks none (or names no key at all, which the caller reports itself).
 */
export function jwtConfigProblem(jwt: JwtSettings): { key: 'audience' | 'secret'; message: string } | undefined {
  if (jwt.publicKey !== undefined) {
    if (!jwt.audience?.trim()) {
      return {
        key: 'audience',
        message: 'is required with publicKey: an identity provider signs every service\'s tokens with its key, so without audience a token it issued for another application (with a role claim of its own) would be accepted; set the `aud` your identity provider writes into pushgate\'s tokens',
      };
    }
    return undefined;
  }
  if (jwt.secret !== undefined && Buffer.byteLength(jwt.secret, 'utf8') < MIN_HS256_SECRET_BYTES) {
    return {
      key: 'secret',
      message: `is ${Buffer.byteLength(jwt.secret, 'utf8')} bytes; an HS256 secret needs at least ${MIN_HS256_SECRET_BYTES} (RFC 7518 §3.2), or anyone holding one token can recover it offline and sign admin tokens: generate one with \`openssl rand -base64 48\``,
    };
  }
  return undefined;
}
