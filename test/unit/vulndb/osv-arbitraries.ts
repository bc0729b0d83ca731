/**
 * fast-check generators of OSV records as a hostile or sloppy source writes them: every field of every
 * JSON type, well-formed most of the time (OSV schema 1.6 field names). Shared by the properties that
 * hold the import's record checks, repairs and ratings to their reference versions.
 */
import fc from 'fast-check';

/** CVSS vectors of every version the ratings know, and texts that are none. */
export const CVSS = ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:N', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N',
  'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'AV:N/AC:L/Au:N/C:P/I:P/A:P', '(AV:L/AC:M/Au:N/C:N/I:N/A:P)', 'CVSS:3.1/AV:X', 'not a vector', ''];
/** Vendor severity words in the spellings sources use, and some no rating knows. */
export const WORDS = ['low', 'Moderate', 'medium', 'HIGH', 'important', 'Important', 'critical', 'negligible', 'unknown', 'none', '', 'urgent'];
/** Any JSON value, shallow. */
export const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 4 }), fc.constant([]), fc.constant({}), fc.constant([1, 'a']));
/** `a`, or absent a third of the time. */
export const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });

const sevEntry = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constantFrom('CVSS_V3', 'CVSS_V4', 'CVSS_V2', 'Ubuntu', 'RedHat'), score: fc.oneof(fc.constantFrom(...CVSS), fc.constantFrom(...WORDS)) }) },
  { weight: 1, arbitrary: fc.record({ type: maybe(junk), score: maybe(junk) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ score: fc.constantFrom(...WORDS), type: fc.constant('Ubuntu'), extra: junk }) },
  { weight: 1, arbitrary: junk },
);
const sevList = fc.oneof({ weight: 5, arbitrary: fc.array(sevEntry, { maxLength: 3 }) }, { weight: 1, arbitrary: junk });
const specific = fc.oneof({ weight: 4, arbitrary: fc.record({ severity: maybe(fc.oneof(fc.constantFrom(...WORDS), junk)), urgency: maybe(fc.oneof(fc.string({ maxLength: 4 }), junk)), other: maybe(junk) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: junk });
const event = fc.oneof(fc.record({ introduced: fc.constantFrom('0', '1.0', '2') }), fc.record({ fixed: fc.constantFrom('1.1', '3') }), fc.record({ limit: fc.constant('*') }), junk);
const range = fc.oneof({ weight: 4, arbitrary: fc.record({ type: fc.constantFrom('ECOSYSTEM', 'SEMVER', 'GIT'), events: fc.array(event, { maxLength: 3 }) }) }, { weight: 1, arbitrary: fc.record({ type: maybe(junk), events: maybe(junk) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: junk });
const pkg = fc.oneof({ weight: 4, arbitrary: fc.record({ ecosystem: maybe(fc.oneof(fc.constantFrom('npm', 'Debian:12', 'Alpine:v3.20', 'PyPI'), junk)), name: maybe(fc.oneof(fc.string({ maxLength: 5 }), junk)), purl: maybe(fc.oneof(fc.string({ maxLength: 5 }), junk)) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: junk });
const affected = fc.oneof(
  { weight: 6, arbitrary: fc.record({ package: maybe(pkg), severity: maybe(sevList), ranges: maybe(fc.oneof(fc.array(range, { maxLength: 3 }), junk)), versions: maybe(fc.oneof(fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }), fc.array(junk, { maxLength: 2 }), junk)), ecosystem_specific: maybe(specific), database_specific: maybe(specific) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: junk },
);
const ids = fc.oneof({ weight: 4, arbitrary: fc.array(fc.constantFrom('CVE-2024-1', 'GHSA-x', 'DSA-1'), { maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(fc.oneof(fc.string({ maxLength: 3 }), junk), { maxLength: 3 }) }, { weight: 1, arbitrary: junk });
const text = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 6 }) }, { weight: 1, arbitrary: junk });

/** Records with every field of every JSON type, well-formed most of the time, fields in schema order. */
export const osvRecord = fc.record({
  id: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('GHSA-1', 'CVE-2024-2', 'DSA-3') }, { weight: 1, arbitrary: junk }),
  published: maybe(text), modified: maybe(text), withdrawn: maybe(text), summary: maybe(text), details: maybe(text),
  aliases: maybe(ids), upstream: maybe(ids), related: maybe(ids),
  severity: maybe(sevList),
  database_specific: maybe(specific),
  affected: maybe(fc.oneof({ weight: 6, arbitrary: fc.array(affected, { maxLength: 4 }) }, { weight: 1, arbitrary: junk })),
}, { requiredKeys: [] });

/** {@link osvRecord} with its fields in any order (each source writes its own order). */
export const osvRecordAnyOrder = osvRecord.chain((r) => fc.shuffledSubarray(Object.keys(r), { minLength: Object.keys(r).length })
  .map((keys) => Object.fromEntries(keys.map((k) => [k, (r as Record<string, unknown>)[k]]))));
