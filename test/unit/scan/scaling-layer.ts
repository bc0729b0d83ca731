import type { LayerAnalysis } from '../../../src/scan/walker.js';
/** A layer of `n` files spread over 1,000 directories, each reached by a symlink `/libN` (shared with the bench). */
export function scalingLayer(n: number): LayerAnalysis {
  const paths: string[] = [];
  const links: Record<string, string> = {};
  for (let i = 0; i < n; i++) paths.push(`/usr/lib/d${i % 1000}/f${i}`);
  for (let i = 0; i < 1000; i++) {
    paths.push(`/lib${i}`);
    links[`/lib${i}`] = `usr/lib/d${i}`;
  }
  const kinds = paths.map((p) => (p.startsWith('/lib') ? 'l' : 'f')).join('');
  return { version: 't', paths, kinds, links, whiteouts: [], opaqueDirs: [], replaced: [], transient: [], results: [], diagnostics: [], entries: paths.length, tarBytes: 0, complete: true };
}
