/**
 * Where OSV records come from: a local folder (walked recursively for `*.json`), a local zip (the
 * per-ecosystem `all.zip` export layout, read with yauzl), or an HTTP(S) URL of such a zip, fetched
 * with conditional requests (ETag / If-Modified-Since) and cached beside the database.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Yauzl from 'yauzl';
import { PushgateError } from '../core/errors.js';

// yauzl (CommonJS) is required on first use: a scan (which loads this module to match) and a
// database update from directories never load or parse it.
const requireCjs = createRequire(import.meta.url);
let yauzlLib: typeof Yauzl | undefined;
const yauzl = (): typeof Yauzl => (yauzlLib ??= requireCjs('yauzl') as typeof Yauzl);

/** The default source of an ecosystem: its export on the public OSV bucket. */
export function defaultSourceUrl(ecosystem: string): string {
  return `https://osv-vulnerabilities.storage.googleapis.com/${encodeURIComponent(ecosystem)}/all.zip`;
}

const DEFAULT_URL = /^https:\/\/osv-vulnerabilities\.storage\.googleapis\.com\/([^/]+)\/all\.zip$/;

/**
 * The sources of an update narrowed to `ecosystems` (`db update --ecosystems`): OSV export URLs of
 * other ecosystems are dropped; other sources (mirrors, folders, zips) are kept (their records are
 * filtered on import); an ecosystem without its export URL gets it, unless the sources are only
 * mirrors (an air-gapped setup never reaches out on its own).
 * @param ecosystems canonical OSV ecosystem names (`Red Hat`, `npm`).
 */
export function narrowSources(sources: readonly string[], ecosystems: readonly string[]): string[] {
  const want = new Set(ecosystems.map((e) => e.toLowerCase()));
  const out: string[] = [];
  const have = new Set<string>();
  let mirrors = false;
  for (const src of sources) {
    const m = DEFAULT_URL.exec(src);
    if (!m) {
      mirrors = true;
      out.push(src);
      continue;
    }
    const eco = decodeURIComponent(m[1]).toLowerCase();
    if (want.has(eco)) {
      out.push(src);
      have.add(eco);
    }
  }
  if (!mirrors) for (const e of ecosystems) if (!have.has(e.toLowerCase())) out.push(defaultSourceUrl(e));
  return out;
}

/** One file of a source. `text` is undefined for files skipped (not `*.json`, or `error`). */
export interface SourceFile {
  name: string;
  text?: string;
  /** Why a `*.json` file was not read (over {@link MAX_RECORD_BYTES}): a bad record to report. */
  error?: string;
}

/**
 * Largest OSV record file read (64 MiB; published records are kilobytes, the largest a few MiB). A
 * bigger one is reported and skipped: a zip entry of spaces compresses about 1000:1, and past V8's
 * string limit (512 MiB) its text could not even be made, which threw out of the zip reader.
 */
export const MAX_RECORD_BYTES = 64 << 20;

/** The bad-record note of a record file over {@link MAX_RECORD_BYTES}. */
export function tooLarge(bytes: number): string {
  return `${bytes} bytes is over the ${MAX_RECORD_BYTES}-byte limit of one OSV record file (file skipped)`;
}

/** What {@link readFileCapped} read: the text, or the size of a file over the limit (not read). */
export type CappedRead = { text: string; size?: undefined } | { text?: undefined; size: number };

// one buffer reused by every read (grown when a file is larger, up to the limit + 1 byte)
let readBuf = Buffer.allocUnsafe(1 << 20);

/**
 * Reads a file as UTF-8 text unless it holds more than `max` bytes (then only its size, from fstat, is
 * returned). One open and a read into a reused buffer instead of a stat plus `readFileSync`: a folder
 * import reads tens of thousands of small records, and the stat's `Stats` object cost more than the read.
 * @throws the `fs` error when the file cannot be opened or read.
 */
export function readFileCapped(file: string, max = MAX_RECORD_BYTES): CappedRead {
  const fd = fs.openSync(file, 'r');
  try {
    let n = 0;
    for (;;) {
      if (n === readBuf.length) {
        // a file larger than the buffer (rare): its size first, so an oversize one is never read
        const size = fs.fstatSync(fd).size;
        if (size > max || n > max) return { size: Math.max(size, n) };
        const bigger = Buffer.allocUnsafe(Math.min(Math.max(readBuf.length * 2, size + 1), max + 1));
        readBuf.copy(bigger, 0, 0, n);
        readBuf = bigger;
      }
      const r = fs.readSync(fd, readBuf, n, readBuf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    if (n > max) return { size: n };
    return { text: readBuf.toString('utf8', 0, n) };
  } finally {
    fs.closeSync(fd);
    if (readBuf.length > 4 << 20) readBuf = Buffer.allocUnsafe(1 << 20); // a large file's buffer is not kept
  }
}

/** Kind of a source string. */
export function sourceKind(src: string): 'url' | 'zip' | 'dir' {
  if (/^https?:\/\//i.test(src)) return 'url';
  let st: fs.Stats;
  try {
    st = fs.statSync(src);
  } catch {
    throw new PushgateError('NOT_FOUND', `source ${src} does not exist: give a folder of OSV JSON, a zip, or an http(s) URL`);
  }
  if (st.isDirectory()) return 'dir';
  return 'zip';
}

/**
 * Counts and yields the files of a folder, recursively, sorted for a stable import order. Each path is
 * `path.join(dir, name)`, spelled as {@link joinPrefix}`(dir) + name` (one join per folder, not per file:
 * OSV folders hold thousands of records).
 */
export function* walkDir(dir: string): Generator<string> {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  const prefix = joinPrefix(dir);
  for (const e of entries) {
    const p = prefix + e.name;
    if (e.isDirectory()) yield* walkDir(p);
    else if (e.isFile()) yield p;
  }
}

/**
 * The text `path.join(dir, name)` puts before `name`, for any name a directory listing holds (not empty,
 * not `.` or `..`, no separator): the join normalizes `dir` and appends the name as its last segment, which
 * nothing after it can remove, so joining a one-letter stand-in and dropping it gives that text.
 */
export function joinPrefix(dir: string): string {
  return path.join(dir, 'x').slice(0, -1);
}

/**
 * Reads every entry of a zip. Calls `onFile` per entry (JSON entries with their text). Rejects with
 * PushgateError VULNDB when the zip is truncated or corrupt (entries read before that were delivered).
 */
export function readZip(file: string, onFile: (f: SourceFile, done: number, total: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown): void =>
      reject(new PushgateError('VULNDB', `zip ${file}: ${err instanceof Error ? err.message : String(err)} (truncated or corrupt download?)`, { cause: err }));
    yauzl().open(file, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return fail(err);
      let done = 0;
      zip.on('error', fail);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: Yauzl.Entry) => {
        done++;
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        if (!entry.fileName.endsWith('.json')) {
          onFile({ name: entry.fileName }, done, zip.entryCount);
          return zip.readEntry();
        }
        // yauzl checks the declared size against the bytes inflated, so the declared size is the size.
        if (entry.uncompressedSize > MAX_RECORD_BYTES) {
          onFile({ name: entry.fileName, error: tooLarge(entry.uncompressedSize) }, done, zip.entryCount);
          return zip.readEntry();
        }
        zip.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) return fail(e2);
          const chunks: Buffer[] = [];
          let bytes = 0;
          stream.on('data', (c: Buffer) => {
            bytes += c.length;
            if (bytes > MAX_RECORD_BYTES) stream.destroy(new Error(`${entry.fileName}: inflates past its declared ${entry.uncompressedSize} bytes`));
            else chunks.push(c);
          });
          stream.on('error', fail);
          stream.on('end', () => {
            // An error of the import itself ends the read as a failed source, never as an exception
            // thrown out of a stream event.
            try {
              onFile({ name: entry.fileName, text: Buffer.concat(chunks).toString('utf8') }, done, zip.entryCount);
            } catch (e3) {
              zip.close();
              return fail(e3);
            }
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** Conditional-request state of one URL, kept in the database's meta table. */
export interface HttpCacheEntry {
  etag?: string;
  lastModified?: string;
  /** Where the last downloaded body is kept. */
  file: string;
}

/** Cache file for a downloaded body, beside the database (`<db>.sources/<sha256(key)>.zip`). */
export function cacheFileFor(dbPath: string, key: string): string {
  return path.join(`${dbPath}.sources`, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.zip`);
}

/**
 * The text of a failed fetch: Node's fetch (undici) says only "fetch failed" and keeps the reason
 * (`getaddrinfo ENOTFOUND host`, `connect ECONNREFUSED …`, a certificate error) in `cause`.
 */
export function fetchErrorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return cause && !err.message.includes(cause) ? `${err.message} (${cause})` : err.message;
}

/**
 * Downloads `url` to its cache file unless the server answers 304 to the conditional request built
 * from `prev`. Returns the new cache entry and whether the body was downloaded. Network failures and
 * HTTP errors are PushgateError NETWORK / VULNDB naming the URL.
 */
export async function fetchToCache(
  url: string,
  dbPath: string,
  prev: HttpCacheEntry | undefined,
  fetchImpl: typeof fetch,
  log: (line: string) => void,
): Promise<{ entry: HttpCacheEntry; downloaded: boolean }> {
  const headers: Record<string, string> = {};
  const havePrev = prev && fs.existsSync(prev.file);
  if (havePrev && prev.etag) headers['If-None-Match'] = prev.etag;
  if (havePrev && prev.lastModified) headers['If-Modified-Since'] = prev.lastModified;
  let res: Response;
  try {
    res = await fetchImpl(url, { headers, redirect: 'follow' });
  } catch (err) {
    throw new PushgateError('NETWORK', `GET ${url}: ${fetchErrorText(err)}`, { cause: err, retryable: true });
  }
  if (res.status === 304 && havePrev && prev) {
    log(`${url}: not modified (304), using the copy from the last update`);
    return { entry: prev, downloaded: false };
  }
  if (!res.ok || !res.body) {
    throw new PushgateError('VULNDB', `GET ${url}: HTTP ${res.status} ${res.statusText}: check the URL or the ecosystem name`, {
      retryable: res.status >= 500,
    });
  }
  const etag = res.headers.get('etag');
  const lm = res.headers.get('last-modified');
  // one file per (URL, validator): the previous download stays intact for the database still serving
  const file = cacheFileFor(dbPath, `${url}\n${etag ?? lm ?? String(Date.now())}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.part-${process.pid}`;
  const buf = Buffer.from(await res.arrayBuffer());
  fs.writeFileSync(tmp, buf);
  fs.renameSync(tmp, file);
  const entry: HttpCacheEntry = { file };
  if (etag) entry.etag = etag;
  if (lm) entry.lastModified = lm;
  log(`${url}: downloaded ${buf.length} bytes`);
  return { entry, downloaded: true };
}

/** What a source holds: OSV advisories, or one of the enrichment kinds. */
export type SourceKindName = 'osv' | 'nvd' | 'kev' | 'epss' | 'eol';

/** The enrichment kinds a source string may be prefixed with. */
export const ENRICHMENT_KINDS = ['nvd', 'kev', 'epss', 'eol'] as const;

/**
 * Splits a source string: `nvd:DIR|FILE|URL`, `kev:FILE|URL`, `epss:FILE|URL`, `eol:DIR|URL`, `osv:…`, or
 * (no prefix) an OSV source. A prefix is required for enrichment data, so a folder is never guessed from
 * its contents.
 */
export function parseSourceSpec(src: string): { kind: SourceKindName; location: string } {
  const m = /^(osv|nvd|kev|epss|eol):(?!\/\/)(.+)$/i.exec(src);
  if (m) return { kind: m[1].toLowerCase() as SourceKindName, location: m[2] };
  return { kind: 'osv', location: src };
}

/** Default sources of the enrichment kinds (used in config examples and docs). */
export const DEFAULT_ENRICHMENT_URLS: Record<(typeof ENRICHMENT_KINDS)[number], string> = {
  nvd: 'https://services.nvd.nist.gov/rest/json/cves/2.0',
  kev: 'https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json',
  epss: 'https://epss.cyentia.com/epss_scores-current.csv.gz',
  eol: 'https://endoflife.date/api/v1/products',
};
