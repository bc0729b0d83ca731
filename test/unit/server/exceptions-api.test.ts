/**
 * POST /api/v1/exceptions over real HTTP on the server `pushgate serve` starts (startServer: real
 * SQLite store, PolicyControl, JWT admin): an exception whose `expires` is already past is refused with
 * 400 and says so; one in force (a date lasts through that day, UTC) is stored.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';

const PORT = 16600;
const SECRET = 'exceptions-api-test-secret-0123456789';

describe('admin API: exceptions that have already expired are refused', function () {
  this.timeout(30_000);
  let dir: string;
  let srv: RunningServer;
  const admin = () => jwt.sign({ sub: 'alice', role: 'admin' }, SECRET, { algorithm: 'HS256', expiresIn: '5m' });
  const post = async (body: object) => {
    const r = await fetch(`http://127.0.0.1:${PORT}/api/v1/exceptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin()}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, json: (await r.json()) as { error?: string; spec?: { expires: string } } };
  };
  const ex = (expires: string) => ({ reason: 'vendor patch due', owner: 'team-a', expires, ids: ['CVE-2099-0001'] });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-exceptions-api-'));
    const config = labGateConfig(dir, [labRegistryConfig('lab', PORT + 1, 'exceptions-api-token-0123456789')]);
    config.server.listen = `127.0.0.1:${PORT}`;
    config.api.jwt = { secret: SECRET };
    srv = await startServer(config, silentLogger);
  });
  after(async () => {
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a past date or date-time: 400 naming expires and saying it is in the past; nothing stored', async () => {
    const day = await post(ex('2020-01-31'));
    expect(day.status).to.equal(400);
    expect(day.json.error).to.match(/^invalid exception: expires: 2020-01-31 is in the past \(a date lasts through that day, UTC\): an exception must expire after now \(\d{4}-/);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect((await post(ex(yesterday))).status).to.equal(400);
    const instant = await post(ex(new Date(Date.now() - 60_000).toISOString()));
    expect(instant.status).to.equal(400);
    expect(instant.json.error).to.match(/expires: \S+ is in the past: an exception must expire after now/);
    expect(srv.control.list()).to.deep.equal([]);
  });

  it('today (in force until the end of the day, UTC) and a future date-time are stored: 201', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const a = await post(ex(today));
    expect(a.status, a.json.error).to.equal(201);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const b = await post(ex(later));
    expect(b.status, b.json.error).to.equal(201);
    expect(srv.control.list().map((e) => e.spec.expires)).to.deep.equal([today, later]);
  });

  it('a registry named by its host (or its name in another case): 400 naming the registry to write; nothing stored', async () => {
    for (const registry of [`127.0.0.1:${PORT + 1}`, `localhost:${PORT + 1}`, 'LAB', '127.0.0.1:*']) {
      const r = await post({ ...ex('2999-01-01'), registry });
      expect(r.status, registry).to.equal(400);
      expect(r.json.error).to.match(/^invalid exception: registry: .* names the configured registry "lab" by host or in another case.*write registry: lab$/);
    }
    expect(srv.control.list().filter((e) => typeof e.spec.registry === 'string' && e.spec.registry !== 'lab'), 'nothing stored').to.deep.equal([]);
    const before = srv.control.list().length;
    expect((await post({ ...ex('2999-01-01'), registry: 'lab' })).status).to.equal(201);
    expect((await post({ ...ex('2999-01-01'), registry: 'l*' })).status).to.equal(201);
    expect(srv.control.list()).to.have.length(before + 2);
  });
});
