/**
 * os/apk: installed Alpine/Wolfi packages from `/lib/apk/db/installed` (apk-tools database format:
 * one stanza per package, `P:` name, `V:` version, `A:` arch, `o:` origin = source package, `F:` a
 * directory and the following `R:` lines its files). Stanzas without `V:` are skipped, as trivy does.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl } from '../purl.js';

/** Parses the installed database. */
export function parseApkInstalled(text: string, path: string): { packages: FoundPackage[]; owned: Array<{ owner: string; files: string[] }> } {
  const packages: FoundPackage[] = [];
  const owned: Array<{ owner: string; files: string[] }> = [];
  let cur: Record<string, string> = {};
  let files: string[] = [];
  let dir = '';
  const flush = () => {
    if (cur.P && cur.V) {
      packages.push({
        ecosystem: 'Alpine',
        name: cur.P,
        version: cur.V,
        sourceName: cur.o || cur.P,
        sourceVersion: cur.V,
        arch: cur.A,
        path,
        purl: formatPurl({ type: 'apk', namespace: 'alpine', name: cur.P, version: cur.V, qualifiers: { arch: cur.A } }),
      });
      owned.push({ owner: cur.P, files });
    }
    cur = {};
    files = [];
    dir = '';
  };
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') { flush(); continue; }
    if (line[1] !== ':') continue;
    const k = line[0];
    const v = line.slice(2);
    if (k === 'F') dir = v;
    else if (k === 'R') files.push(`/${dir ? `${dir}/` : ''}${v}`);
    else if (!(k in cur)) cur[k] = v;
  }
  flush();
  return { packages, owned };
}

/** The analyzer. */
export const apkAnalyzer: Analyzer = {
  name: 'os/apk',
  version: 1,
  maxSize: 64 * 1024 * 1024,
  sizeClass: 'packagedb',
  wants: (e) => e.path === '/lib/apk/db/installed',
  names: { paths: ['/lib/apk/db/installed'] },
  analyze(input) {
    const { packages, owned } = parseApkInstalled(input.content.toString('utf8'), input.path);
    return { packages, ownedFiles: owned };
  },
};
