/**
 * The Harbor API client against an answer that never ends (a hostile or broken Harbor, or whatever
 * answers at its URL): every call fails once the answer passes {@link HARBOR_MAX_ANSWER_BYTES}, and
 * the heap does not grow with it. In-process server on loopback.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HARBOR_MAX_ANSWER_BYTES, HarborApi } from '../../../src/enforce/actions/harbor-api.js';
import { streamBlankBody } from '../../helpers/endless-body.js';

describe('Harbor API client: bounded answers', function () {
  this.timeout(60_000);
  let server: http.Server | undefined;
  let sent = 0;
  afterEach(async () => {
    await new Promise<void>((r) => {
      server?.closeAllConnections();
      if (server) server.close(() => r());
      else r();
    });
    server = undefined;
  });

  /** A Harbor that answers every call 200 with a body streamed without end (chunked, no length). */
  async function endless(): Promise<string> {
    server = http.createServer((_req, res) => {
      sent = 0;
      res.writeHead(200, { 'content-type': 'application/json' });
      streamBlankBody(res, 4 * HARBOR_MAX_ANSWER_BYTES, (n) => (sent += n));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('every call fails past the bound instead of reading the whole answer', async () => {
    const url = await endless();
    const api = new HarborApi({ name: 'h', url, auth: { username: 'robot', password: 'pw' } });
    const calls: Array<[string, (a: HarborApi) => Promise<unknown>]> = [
      ['getArtifact', (a) => a.getArtifact('team/app', 'v1')],
      ['labelId', (a) => a.labelId('quarantined', 'team')],
      ['deleteTag', (a) => a.deleteTag('team/app', `sha256:${'a'.repeat(64)}`, 'v1')],
      ['call', (a) => a.call('GET', '/projects/team')],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...calls), async ([name, run]) => {
        let failed: unknown;
        try {
          await run(api);
        } catch (e) {
          failed = e;
        }
        expect(failed, name).to.be.instanceOf(Error);
        expect((failed as Error).message, name).to.match(/larger than/);
        // The server wrote at most the bound plus what sat in socket buffers when the call gave up.
        expect(sent, name).to.be.below(3 * HARBOR_MAX_ANSWER_BYTES);
      }),
      { numRuns: 6 },
    );
  });
});
