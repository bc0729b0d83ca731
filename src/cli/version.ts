/** pushgate's version (kept equal to package.json by test/unit/cli). */
export const VERSION = '0.1.0';
/** User-Agent of pushgate's registry requests; its own traffic is recognized by this prefix. */
export const USER_AGENT = `pushgate/${VERSION}`;
