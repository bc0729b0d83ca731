/**
 * An image judged while the registry's token issuer refused pushgate is judged again, and
 * enforced, once the issuer accepts it: no operator action. Real Distribution 2.8 with token auth
 * and the in-process token issuer (test/integration/registry/token-issuer.ts), the real pushgate
 * serve in-process; loopback ports 22010-22012. Each event gets one attempt (queue.maxAttempts: 1)
 * and the policy's onIncomplete is warn, so the first judgement ends as an incomplete `warn`
 * verdict whose event is complete: nothing in the queue would ever look at it again (an event whose
 * enforcement failed is parked by the queue and resumed by its registry probe instead).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import type { RunningServer } from '../../../src/server/serve.js';
import { startServer } from '../../../src/server/serve.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { reconcile } from '../../../src/gate/reconcile.js';
import { silentLogger } from '../../helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { makeSigner, startIssuer, type TokenIssuer } from '../registry/token-issuer.js';
import { dayoneConfig, pushImage, scratchWithDb, waitFor } from './helpers.js';

const PG_PORT = 22010;
const REG_PORT = 22011;
const ISSUER_PORT = 22012;
const TOKEN = 'dayone-token-issuer-webhook-0123456789';

describe('day one: a verdict left incomplete by a refusing token issuer is not final', function () {
  this.timeout(180_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let issuer: TokenIssuer;
  let pusher: RegistryClient;
  let refusing = true;

  before(async () => {
    dir = await scratchWithDb('dayone-token');
    const signer = makeSigner(fs.mkdtempSync(`${dir}/signer-`));
    issuer = await startIssuer(ISSUER_PORT, signer);
    issuer.users = { pushgate: 'pg-pass', ci: 'ci-pass' };
    // pushgate's account exists but is granted nothing while "refusing" (a robot account whose
    // project permissions were removed): the registry answers 401 insufficient_scope.
    issuer.grant = (user, _type, _name, actions) => (user === 'pushgate' && refusing ? [] : actions);
    reg = startRegistry(REG_PORT, {
      auth: 'token',
      notifyUrl: `http://127.0.0.1:${PG_PORT}/webhooks/distribution`,
      notifyHeader: `Authorization: Bearer ${TOKEN}`,
      env: { TOKEN_REALM: issuer.realm, TOKEN_ROOTCERTBUNDLE: signer.cert, TOKEN_SERVICE: 'lab-registry', TOKEN_ISSUER: 'lab-issuer' },
    });
    const config = dayoneConfig(dir, `127.0.0.1:${PG_PORT}`, [
      { name: 'lab', url: reg.url, type: 'distribution', insecure: false, auth: { username: 'pushgate', password: 'pg-pass' }, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 4, timeoutMs: 10_000 },
    ]);
    config.queue = { ...config.queue, maxAttempts: 1 };
    const policyFile = path.join(dir, 'policy.yaml');
    const policy = fs.readFileSync(path.join(ROOT, 'config/policy.yaml'), 'utf8').replace(/onIncomplete: quarantine/, 'onIncomplete: warn');
    expect(policy).to.include('onIncomplete: warn');
    fs.writeFileSync(policyFile, policy);
    config.policy = policyFile;
    srv = await startServer(config, silentLogger, { policyWatchMs: 0, unfinishedRetryMs: 1500 });
    pusher = new RegistryClient({ name: 'ci', url: reg.url, userAgent: 'test-pusher/1', auth: { username: 'ci', password: 'ci-pass' } });
  });
  after(async () => {
    reg?.stop();
    await srv?.close();
    await issuer?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refused, then accepted: the image ends enforced without operator action; messages name the registry\'s code', async () => {
    const bad = await pushImage(pusher, 'team/app', 'v1', { secret: true, n: 21 });
    // First judgement, while refused: incomplete (warn), the event done, the violating tag still served.
    const v1 = await waitFor(async () => {
      const v = await srv.store.getVerdict('lab', 'team/app', bad.digest);
      return v && !v.complete ? v : undefined;
    }, 'an incomplete verdict while the issuer refuses pushgate', 60_000);
    expect(v1.decision).to.equal('warn');
    await waitFor(async () => (await srv.store.queueDepth()) === 0, 'the event to be done', 10_000);
    const why = JSON.stringify(v1.reasons);
    expect(why).to.match(/insufficient_scope/);
    expect(why).to.match(/permission/);
    expect(why).to.not.match(/check registries\[\]\.auth/);
    expect((await pusher.resolve('team/app', 'v1'))?.digest).to.equal(bad.digest);
    // One refused attempt costs a handful of token requests (the tag-link wait's budget: test/unit/enforce/tag-link.test.ts).
    const attempts = await srv.store.listAudit(50, { repository: 'team/app' });
    const tokenRequests = issuer.log.filter((l) => l.user === 'pushgate').length;
    expect(tokenRequests, `token requests for ${attempts.length} audit records`).to.be.at.most(12);

    // The issuer is fixed; nobody runs anything: the scheduled retry judges it again, completely,
    // rejects and deletes it.
    refusing = false;
    const v2 = await waitFor(async () => {
      const v = await srv.store.getVerdict('lab', 'team/app', bad.digest);
      return v?.complete && v.enforcement?.status === 'done' ? v : undefined;
    }, 'a complete, enforced verdict after the issuer accepts pushgate', 60_000);
    expect(v2.decision).to.equal('reject');
    expect(await pusher.resolve('team/app', 'v1'), 'the violating tag is no longer served').to.equal(undefined);
    // reconcile now finds nothing left to do: the verdict is final.
    const r = await reconcile({ config: srv.gate.configRef, gate: srv.gate, store: srv.store, registry: 'lab' });
    expect(r.errors).to.deep.equal([]);
    expect(r.queued).to.equal(0);
  });
});
