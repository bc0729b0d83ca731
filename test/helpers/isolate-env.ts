/**
 * Loaded by mocha before every test file (.mocharc.json `require`): keeps the CLI processes the tests
 * start away from the user's state. Without it, a `pushgate scan` without `--db` would read the
 * developer's `~/.cache/pushgate/vulndb.sqlite` (changing what tests see) or download the public OSV
 * exports on first use. Each test run gets an empty cache directory, and the default database sources
 * point at a closed loopback port (the first-use download fails at once, offline as CI is).
 * A test that needs other values sets them in the environment of the process it starts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-test-cache-'));
process.env.PUSHGATE_CACHE_DIR = cache;
// a port of this suite's own range (23200-23299) that no test listens on: the connection is refused at
// once (not port 9: fetch refuses the well-known "bad ports" before connecting)
process.env.PUSHGATE_VULNDB_MIRROR = 'http://127.0.0.1:23299/osv';
delete process.env.PUSHGATE_CONFIG;
process.on('exit', () => fs.rmSync(cache, { recursive: true, force: true }));
