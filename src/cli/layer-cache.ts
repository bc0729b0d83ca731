/**
 * The CLI's persistent layer cache: one JSON file per analysed layer under the cache directory
 * (`<cache dir>/layers/<sha256 of the key>.json`), so scanning an image whose base layers were seen
 * before reads only the new layers (as `serve` does with its store table).
 *
 * Used for registry targets only. Keys are the analyzer-set version plus the layer's compressed digest
 * (scan/engine.ts `layerCacheKey`), and the engine stores an analysis only after reading the whole
 * blob and verifying its digest, never one cut short by a limit; a registry verified the blob on push.
 * The files of a local layout or archive can change under their digest, and a scan of them must say
 * so (`layer-digest-mismatch`), not answer from the cache. A file that cannot be read or parsed
 * is a miss; writes go to a temporary file renamed into place, so a concurrent scan never reads half
 * a file. Nothing is evicted: remove the directory to reclaim the space.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { LayerAnalysis, LayerCache } from '../scan/engine.js';

/** A {@link LayerCache} on files under `dir` (created on the first write). */
export function fileLayerCache(dir: string): LayerCache {
  const file = (key: string): string => path.join(dir, `${createHash('sha256').update(key).digest('hex')}.json`);
  return {
    async get(key) {
      try {
        const v = JSON.parse(await fs.promises.readFile(file(key), 'utf8')) as LayerAnalysis & { key?: string };
        // the key is stored beside the value: a hash collision or a renamed file is a miss
        if (v.key !== key) return undefined;
        delete v.key;
        return v;
      } catch {
        return undefined;
      }
    },
    async set(key, value) {
      try {
        await fs.promises.mkdir(dir, { recursive: true });
        const f = file(key);
        const tmp = `${f}.${process.pid}.tmp`;
        await fs.promises.writeFile(tmp, JSON.stringify({ ...value, key }));
        await fs.promises.rename(tmp, f);
      } catch {
        // a cache that cannot be written (read-only home, full disk) only costs the next scan time
      }
    },
  };
}
