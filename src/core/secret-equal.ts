/**
 * Comparison of a presented credential with a configured one. Both sides are hashed with SHA-256 first, so
 * `timingSafeEqual` always compares 32 bytes: neither the time taken nor an early length check tells the
 * caller how long the configured secret is or how much of it matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** True when `given` and `secret` are the same string (UTF-8), in time independent of their contents and lengths' relation. */
export function secretEquals(given: string, secret: string): boolean {
  return timingSafeEqual(digest(given), digest(secret));
}

/**
 * Index of the first of `secrets` equal to `given`, or -1. Every candidate is compared (empty ones never
 * match), so the time does not say which one matched.
 */
export function findSecret(given: string, secrets: ReadonlyArray<string | undefined>): number {
  const g = digest(given);
  let found = -1;
  secrets.forEach((s, i) => {
    if (s === undefined || s === '') return;
    if (timingSafeEqual(g, digest(s)) && found === -1) found = i;
  });
  return found;
}
