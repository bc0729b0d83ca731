/**
 * Query parameters of the API's list endpoints, validated against a declared set: every parameter
 * is known, given at most once and well-formed, or the call is answered 400 with one line per
 * problem naming the parameter, what it got and what is allowed.
 */
import { isDigest, PushgateError } from '../core/index.js';

/** How one query parameter is read. */
export type QueryParamSpec =
  /** A decimal integer in [min, max]; `what` (optional) says what it names. */
  | { kind: 'integer'; min: number; max: number; default: number; what?: string }
  /** One of `values`. */
  | { kind: 'enum'; values: readonly string[]; default?: string }
  /** A non-empty string without NUL bytes (a name to match exactly); `what` says what it names. */
  | { kind: 'string'; what: string }
  /** A digest `sha256:<64 hex>`. */
  | { kind: 'digest' };

/** The parameters an endpoint accepts, by name. */
export type QuerySpec = Record<string, QueryParamSpec>;

/** The parsed values: integers as numbers, the rest as strings; absent optional parameters are left out. */
export type QueryValues<S extends QuerySpec> = {
  [K in keyof S]: S[K] extends { kind: 'integer' } ? number : S[K] extends { default: string } ? string : string | undefined;
};

const shown = (v: string) => JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);

/**
 * Reads `query` (express's `req.query`) by `spec` for the endpoint named `endpoint`
 * (`GET /api/v1/audit`, used in messages).
 * @throws PushgateError BAD_ARGUMENT with `details.problems` (one line each) when any parameter is
 *   unknown, repeated, empty, out of its range, or a string holding a NUL byte.
 */
export function parseQuery<S extends QuerySpec>(endpoint: string, query: Record<string, unknown>, spec: S): QueryValues<S> {
  const problems: string[] = [];
  const out: Record<string, string | number | undefined> = {};
  const names = Object.keys(spec);
  for (const [name, raw] of Object.entries(query)) {
    if (!Object.hasOwn(spec, name)) {
      problems.push(`unknown query parameter ${shown(name)}: ${endpoint} accepts ${names.length ? names.join(', ') : 'no query parameters'}`);
    } else if (typeof raw !== 'string') {
      problems.push(`query parameter ${name}: given ${Array.isArray(raw) ? `${raw.length} times` : 'in an unsupported form'}; give it once`);
    }
  }
  for (const [name, p] of Object.entries(spec)) {
    const raw = query[name];
    if (raw === undefined) {
      out[name] = 'default' in p ? p.default : undefined;
      continue;
    }
    if (typeof raw !== 'string') continue;
    switch (p.kind) {
      case 'integer':
        if (/^\d{1,15}$/.test(raw) && Number(raw) >= p.min && Number(raw) <= p.max) out[name] = Number(raw);
        else problems.push(`query parameter ${name}: got ${shown(raw)}; use an integer from ${p.min} to ${p.max} (default ${p.default})`);
        break;
      case 'enum':
        if (p.values.includes(raw)) out[name] = raw;
        else problems.push(`query parameter ${name}: got ${shown(raw)}; use one of ${p.values.join(', ')}${p.default ? ` (default ${p.default})` : ''}`);
        break;
      case 'string':
        // No name pushgate stores holds a NUL (PostgreSQL text cannot): refused here, on every store alike.
        if (raw.includes('\0')) problems.push(`query parameter ${name}: got a NUL byte (%00), which nothing pushgate stores holds; give ${p.what} without it`);
        else if (raw !== '') out[name] = raw;
        else problems.push(`query parameter ${name}: got an empty value; give ${p.what} or leave the parameter out`);
        break;
      case 'digest':
        if (isDigest(raw)) out[name] = raw;
        else problems.push(`query parameter ${name}: got ${shown(raw)}; use a digest such as sha256:<64 hex>, or leave the parameter out`);
        break;
    }
  }
  if (problems.length) throw new PushgateError('BAD_ARGUMENT', problems.join('; '), { details: { problems } });
  return out as QueryValues<S>;
}
