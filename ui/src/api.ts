/**
 * The console's only way to the server: `fetch` of `/api/v1` with the signed-in bearer token.
 * The token lives in sessionStorage (gone with the tab), never in a URL, a log or localStorage.
 */

const KEY = 'pushgate.token';

/** Who is signed in, as far as the page can tell (the server decides every call by itself). */
export interface Session {
  token: string;
  subject: string;
  /** `admin` shows the actions; the API refuses them to anyone else whatever the page shows. */
  role: 'viewer' | 'admin';
  /** Token expiry (ms since the epoch) when it is a JWT with `exp`. */
  expires?: number;
}

/** An API error: the HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads the claims of a JWT without verifying it (display only: role and subject). */
export function sessionFor(token: string): Session {
  const parts = token.split('.');
  if (parts.length === 3) {
    try {
      const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'));
      const c = JSON.parse(json) as { sub?: unknown; role?: unknown; roles?: unknown; exp?: unknown };
      const roles = [c.role, ...(Array.isArray(c.roles) ? c.roles : [])];
      return {
        token,
        subject: typeof c.sub === 'string' ? c.sub : 'jwt',
        role: roles.includes('admin') ? 'admin' : 'viewer',
        ...(typeof c.exp === 'number' ? { expires: c.exp * 1000 } : {}),
      };
    } catch {
      // Not a JWT after all: a static viewer token.
    }
  }
  return { token, subject: 'API token', role: 'viewer' };
}

/** The current session, if a token is kept in this tab. */
export function currentSession(): Session | undefined {
  const t = sessionStorage.getItem(KEY);
  return t ? sessionFor(t) : undefined;
}

/** Keeps `token` for this tab. */
export function keepToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

/** Forgets the token. */
export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

/** Called when the server refuses the token (401): the app shows the sign-in page. */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

/**
 * Builds `../api/v1/<path>?<query>` (empty values left out; every value percent-encoded): relative to
 * the page at `<base>/ui/`, so the console also works behind a proxy that serves pushgate under a path.
 */
export function apiUrl(path: string, query: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `../api/v1/${path}${qs ? `?${qs}` : ''}`;
}

/**
 * Calls the API with the session's token.
 * @throws ApiError with the server's message for any non-2xx answer.
 */
export async function api<T>(path: string, opts: { query?: Record<string, string | number | undefined>; method?: string; body?: unknown } = {}): Promise<T> {
  const token = sessionStorage.getItem(KEY);
  if (!token) {
    onUnauthorized();
    throw new ApiError(401, 'not signed in');
  }
  const r = await fetch(apiUrl(path, opts.query), {
    method: opts.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await r.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!r.ok) {
    if (r.status === 401) onUnauthorized();
    const msg = (data as { error?: unknown } | undefined)?.error;
    throw new ApiError(r.status, typeof msg === 'string' ? msg : `HTTP ${r.status}`);
  }
  return data as T;
}
