/**
 * Paginated listings (tags, catalog, referrers) against a hostile registry answer: a `Link` chain that
 * never ends, pages of very many entries, and a `Link` to another origin. pushgate must stop with a
 * RegistryError after a bounded number of requests, never fetch a host the configuration does not
 * name, and never merge another host's list into the registry's. In-process fakes on loopback
 * (ports 15060-15061).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LIST_LIMITS, RegistryClient } from '../../../src/registry/client.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { MediaTypes } from '../../../src/core/manifest.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(port: number, handler: Handler): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    n++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: () => n,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const DIGEST = `sha256:${'c'.repeat(64)}`;
type Listing = 'tags' | 'catalog' | 'referrers';

/** One page of `listing` holding `entries`, as the registry's JSON. */
function page(listing: Listing, entries: string[]): string {
  if (listing === 'tags') return JSON.stringify({ name: 'team/app', tags: entries });
  if (listing === 'catalog') return JSON.stringify({ repositories: entries });
  return JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries.map((e) => ({ mediaType: MediaTypes.ociManifest, digest: `sha256:${e.padStart(64, '0').slice(-64)}`, size: 1 })) });
}

function list(c: RegistryClient, listing: Listing): Promise<unknown[]> {
  if (listing === 'tags') return c.listTags('team/app');
  if (listing === 'catalog') return c.catalog();
  return c.referrers('team/app', DIGEST);
}

async function rejection(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(RegistryError);
    return e as RegistryError;
  }
  throw new Error('expected the listing to fail');
}

describe('registry listings: bounded against a hostile Link chain', function () {
  this.timeout(60_000);
  let srv: Awaited<ReturnType<typeof serve>> | undefined;
  let other: Awaited<ReturnType<typeof serve>> | undefined;
  afterEach(async () => {
    await srv?.close();
    await other?.close();
    srv = other = undefined;
  });
  const client = () => new RegistryClient({ name: 'fake', url: srv!.url, retryBaseMs: 10, retryMaxMs: 50 });

  for (const listing of ['tags', 'catalog', 'referrers'] as const) {
    it(`${listing}: empty pages that always link to a new page end at once with an error`, async () => {
      let n = 0;
      srv = await serve(15060, (req, res) => {
        n++;
        res.setHeader('content-type', listing === 'referrers' ? MediaTypes.ociIndex : 'application/json');
        res.setHeader('link', `</v2/next?last=${n}>; rel="next"`);
        res.end(page(listing, []));
      });
      const err = await rejection(list(client(), listing));
      expect(err.message).to.match(/without entries/);
      expect(srv.hits()).to.equal(1);
    });

    it(`${listing}: full pages without end stop at ${LIST_LIMITS.maxEntries} entries`, async () => {
      // a referrers page is a manifest (4 MiB at most): fewer, larger descriptors per page
      const per = listing === 'referrers' ? 20_000 : 100_000;
      let n = 0;
      srv = await serve(15060, (_req, res) => {
        n++;
        res.setHeader('content-type', listing === 'referrers' ? MediaTypes.ociIndex : 'application/json');
        res.setHeader('link', `</v2/next?last=${n}>; rel="next"`);
        res.end(page(listing, Array.from({ length: per }, (_, i) => `${n}x${i}`.replace(/x/g, listing === 'referrers' ? 'a' : 'x'))));
      });
      const err = await rejection(list(client(), listing));
      expect(err.message).to.match(/entries/);
      expect(srv.hits()).to.be.at.most(Math.ceil(LIST_LIMITS.maxEntries / per) + 1);
    });
  }

  it(`pages of few, long entries stop after ${LIST_LIMITS.maxBytes} answer bytes (generated sizes; a chain that ends later)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Listing>('tags', 'catalog', 'referrers'), fc.integer({ min: 1 << 19, max: 3 << 20 }), async (listing, size) => {
        // The registry ends its chain only past the bound: the listing succeeded on the previous code,
        // keeping every page's long entry (a chain of 5,000 such pages: gigabytes).
        const pages = Math.ceil((LIST_LIMITS.maxBytes * 1.25) / size);
        let n = 0;
        srv = await serve(15060, (_req, res) => {
          n++;
          res.setHeader('content-type', listing === 'referrers' ? MediaTypes.ociIndex : 'application/json');
          if (n < pages) res.setHeader('link', `</v2/next?last=${n}>; rel="next"`);
          if (listing !== 'referrers') res.end(page(listing, [`${n}${'x'.repeat(size)}`]));
          else res.end(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [{ mediaType: MediaTypes.ociManifest, digest: DIGEST, size: 1, annotations: { a: `${n}${'x'.repeat(size)}` } }] }));
        });
        try {
          const err = await rejection(list(client(), listing));
          expect(err.message).to.match(/bytes/);
          expect(srv.hits()).to.be.at.most(Math.ceil(LIST_LIMITS.maxBytes / size) + 1);
        } finally {
          await srv.close();
          srv = undefined;
        }
      }),
      { numRuns: 4 },
    );
  });

  it('a Link to any other origin is never followed, and its list never merged (generated spellings)', async () => {
    srv = await serve(15060, () => undefined);
    other = await serve(15061, (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(page('tags', ['foreign']));
    });
    const base = srv.url;
    await srv.close();
    const host = fc.constantFrom('127.0.0.1:15061', 'localhost:15060', '[::1]:15060', '127.0.0.2:15060', '127.1:15061', 'evil.test', 'evil.test:15060');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Listing>('tags', 'catalog', 'referrers'), fc.constantFrom('http', 'https'), host, fc.constantFrom('', '//'), async (listing, scheme, h, prefix) => {
        const link = prefix ? `${prefix}${h}/v2/team/app/tags/list?last=z` : `${scheme}://${h}/v2/team/app/tags/list?last=z`;
        const before = other!.hits();
        srv = await serve(15060, (_req, res) => {
          res.setHeader('content-type', listing === 'referrers' ? MediaTypes.ociIndex : 'application/json');
          res.setHeader('link', `<${link}>; rel="next"`);
          res.end(page(listing, ['a']));
        });
        try {
          expect(srv.url).to.equal(base);
          const err = await rejection(list(client(), listing));
          expect(err.message).to.match(/not to the registry's origin/);
          expect(other!.hits()).to.equal(before);
        } finally {
          await srv.close();
          srv = undefined;
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a relative or same-origin absolute Link is followed to the end (control)', async () => {
    srv = await serve(15060, (req, res) => {
      const last = new URL(req.url!, 'http://x').searchParams.get('last');
      res.setHeader('content-type', 'application/json');
      if (!last) res.setHeader('link', '</v2/team/app/tags/list?last=a&n=1>; rel="next"');
      else if (last === 'a') res.setHeader('link', `<${srv!.url}/v2/team/app/tags/list?last=b&n=1>; rel="next"`);
      res.end(page('tags', [last === null ? 'a' : last === 'a' ? 'b' : 'c']));
    });
    expect(await client().listTags('team/app')).to.deep.equal(['a', 'b', 'c']);
  });
});
