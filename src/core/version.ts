/** pushgate's version (kept equal to package.json by test/unit/cli). */
export const VERSION = '0.1.0';
/**
 * User-Agent of pushgate's registry requests. Informational only: a client can send any User-Agent, so
 * nothing is decided on it (own traffic is what pushgate recorded writing, or the registry's actor).
 */
export const USER_AGENT = `pushgate/${VERSION}`;
