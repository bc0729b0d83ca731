/**
 * A NUL byte in a string query parameter or in an `after=` cursor of the list endpoints is bad input
 * answered 400 naming the parameter, on PostgreSQL as on SQLite. PostgreSQL text cannot hold a NUL,
 * so before this the PostgreSQL store failed the query and the caller got a 502 with the store's own
 * error ("invalid byte sequence for encoding UTF8"), where SQLite answered 200.
 *
 * Real HTTP on the server `pushgate serve` starts, with a real PostgreSQL store (a fresh database)
 * and a real SQLite store.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { encodeCursor } from '../../../src/server/console-api.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { labGateConfig, silentLogger } from '../../helpers/gate.js';
import { freshDatabase } from '../../helpers/postgres.js';

const SECRET = 'query-nul-test-secret-0123456789abc';

/** Every string parameter of the list endpoints. */
const PARAMS: Array<[string, string]> = [
  ['/api/v1/images', 'registry'], ['/api/v1/images', 'repository'], ['/api/v1/images', 'tag'],
  ['/api/v1/audit', 'actor'], ['/api/v1/audit', 'action'], ['/api/v1/audit', 'registry'], ['/api/v1/audit', 'repository'], ['/api/v1/audit', 'tag'],
  ['/api/v1/quarantine', 'registry'], ['/api/v1/quarantine', 'repository'], ['/api/v1/quarantine', 'tag'],
];

for (const kind of ['postgres', 'sqlite'] as const) {
  describe(`API list endpoints: a NUL byte in a query parameter is a 400 naming it (${kind})`, function () {
    this.timeout(60_000);
    let dir: string;
    let srv: RunningServer;
    let drop: (() => Promise<void>) | undefined;
    const get = async (p: string) => {
      // Signed per request: one signed when mocha loads the file had expired whenever the whole unit
      // suite took over ten minutes to reach these tests.
      const token = jwt.sign({ sub: 'alice', role: 'viewer' }, SECRET, { algorithm: 'HS256', expiresIn: '10m' });
      const r = await fetch(`http://127.0.0.1:${srv.port}${p}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, body: await r.text() };
    };

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-query-nul-'));
      const config = labGateConfig(dir, []);
      config.api.jwt = { secret: SECRET };
      if (kind === 'postgres') {
        const db = await freshDatabase('pushgate_h5nul');
        drop = db.drop;
        config.store.url = db.url;
      }
      srv = await startServer(config, silentLogger);
    });
    after(async () => {
      await srv?.close();
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('property: any value with a NUL is 400 naming the parameter; the same value without it is answered 200 (60 runs)', async () => {
      const part = fc.string({ maxLength: 6 });
      await fc.assert(fc.asyncProperty(fc.constantFrom(...PARAMS), part, part, async ([ep, name], a, b) => {
        const bad = await get(`${ep}?${name}=${encodeURIComponent(`${a}\0${b}`)}`);
        expect(bad.status, `${ep} ${name}: ${bad.body}`).to.equal(400);
        expect(bad.body).to.contain(`query parameter ${name}: got a NUL byte`);
        const clean = `${a}${b}`.replace(/\0/g, '');
        if (clean !== '') {
          const ok = await get(`${ep}?${name}=${encodeURIComponent(clean)}`);
          expect(ok.status, `${ep} ${name}=${JSON.stringify(clean)}: ${ok.body}`).to.equal(200);
        }
      }), { numRuns: 60 });
    });

    it('an after= cursor of GET /images holding a NUL is 400, a well-formed one is answered', async () => {
      const bad = await get(`/api/v1/images?after=${encodeCursor([5, 'lab', 'a\0b', 'sha256:00'])}`);
      expect(bad.status, bad.body).to.equal(400);
      expect(bad.body).to.contain('not a cursor of this endpoint');
      const ok = await get(`/api/v1/images?after=${encodeCursor([5, 'lab', 'ab', 'sha256:00'])}`);
      expect(ok.status, ok.body).to.equal(200);
    });
  });
}
