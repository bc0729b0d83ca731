#!/usr/bin/env node
// Entry point. In a checkout (src/ present) it runs the TypeScript source through tsx, so what runs is
// always what the tests test; in the container image (only dist/ is copied) it runs the compiled CLI.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const source = path.join(root, 'src', 'cli', 'main.ts');
const built = path.join(root, 'dist', 'cli', 'main.js');
if (existsSync(source) && !process.env.PUSHGATE_USE_DIST) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(built).href);
}
