/**
 * A real Distribution registry whose notifications go to an in-process `pushgate serve` judging with a given
 * policy, for suites that push an image and check what pushgate did: the stored verdict (once it records an
 * enforcement) and the tags left in a repository.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import type { Verdict } from '../../src/core/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from './gate.js';
import { ROOT, startRegistry, type LabRegistry } from './lab.js';

/** A running registry + gate pair (see the module comment). */
export interface GatedLab {
  reg: LabRegistry;
  srv: RunningServer;
  /** The verdict of `ref` once it records an enforcement (polls the admin API for up to 60 s). */
  verdict(ref: string): Promise<Verdict>;
  /** The tags of `repo` in the registry ([] when the repository is unknown). */
  tags(repo: string): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Starts the pair on 127.0.0.1 (`srvPort` for pushgate, `regPort` for the registry) with the offline OSV
 * fixtures as vulnerability database and `policyYaml` as policy; `configure` may change the
 * configuration before the server starts (e.g. `api.jwt`).
 */
export async function startGatedLab(opts: { regPort: number; srvPort: number; token: string; apiToken: string; policyYaml: string; tmpPrefix: string; configure?: (config: PushgateConfig) => void }): Promise<GatedLab> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), opts.tmpPrefix));
  await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
  const policy = path.join(dir, 'policy.yaml');
  fs.writeFileSync(policy, opts.policyYaml);
  const config = labGateConfig(dir, [labRegistryConfig('lab', opts.regPort, opts.token)]);
  config.server.listen = `127.0.0.1:${opts.srvPort}`;
  config.api.tokens = [opts.apiToken];
  config.policy = policy;
  opts.configure?.(config);
  const gate = `http://127.0.0.1:${opts.srvPort}`;
  const srv = await startServer(config, silentLogger);
  const reg = startRegistry(opts.regPort, { notifyUrl: `${gate}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${opts.token}` });
  return {
    reg,
    srv,
    async verdict(ref) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await fetch(`${gate}/api/v1/verdicts?image=${encodeURIComponent(ref)}`, { headers: { authorization: `Bearer ${opts.apiToken}` } });
        if (r.status === 200) {
          const v = (await r.json()) as Verdict;
          if (v.enforcement) return v;
        }
        if (Date.now() > deadline) throw new Error(`no verdict for ${ref}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    },
    async tags(repo) {
      const r = await fetch(`${reg.url}/v2/${repo}/tags/list`);
      return r.status === 404 ? [] : (((await r.json()) as { tags: string[] | null }).tags ?? []);
    },
    async stop() {
      reg.stop();
      await srv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
