/**
 * The progress bar (src/cli/progress.ts): drawn only on a terminal and never with `--quiet`, and the
 * observed source hands the engine the same bytes while counting them. The whole-CLI terminal case
 * (a real pseudo-terminal) is in scan-flags.test.ts.
 */
import { expect } from 'chai';
import { PassThrough, Readable } from 'node:stream';
import { createProgress, observedSource } from '../../../src/cli/progress.js';
import type { Descriptor } from '../../../src/core/index.js';
import type { ImageSource } from '../../../src/scan/source.js';

/** A writable that records what is written, claiming to be a terminal or not. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { text: () => string };
  const chunks: Buffer[] = [];
  (s as unknown as PassThrough).on('data', (c: Buffer) => chunks.push(c));
  Object.assign(s, { isTTY, columns: 100, rows: 30, text: () => Buffer.concat(chunks).toString('utf8') });
  return s;
}

const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

function source(blobs: Record<string, Buffer>): ImageSource {
  return {
    target: 'test',
    async root() {
      return { digest: 'sha256:root', mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes: Buffer.from(JSON.stringify({ layers: Object.keys(blobs).map((digest) => ({ digest })) })) };
    },
    async manifest() { return Buffer.from('{}'); },
    async blob(desc: Descriptor) { return Readable.from([blobs[desc.digest].subarray(0, 5), blobs[desc.digest].subarray(5)]); },
  };
}

async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('cli: progress', () => {
  const blobs = { 'sha256:aa': Buffer.alloc(3 << 20, 1), 'sha256:bb': Buffer.from('small layer') };

  for (const [what, tty, quiet] of [['not a terminal', false, false], ['--quiet on a terminal', true, true]] as const) {
    it(`${what}: nothing is written, and the layer streams pass through unchanged`, async () => {
      const out = stream(tty);
      const p = createProgress({ stream: out, quiet });
      expect(p.active).to.equal(false);
      const manifests = new Map<string, Buffer>();
      const src = observedSource(source(blobs), p, manifests);
      await src.root();
      for (const [digest, b] of Object.entries(blobs)) expect((await drain(await src.blob({ digest: digest as `sha256:${string}`, mediaType: LAYER, size: b.length }))).equals(b)).to.equal(true);
      expect(out.text()).to.equal('');
      expect([...manifests.keys()]).to.deep.equal(['sha256:root']);
    });
  }

  it('a terminal: a bar per layer (position and digest, bytes read of the blob size), the bytes unchanged, none for a config blob', async () => {
    const out = stream(true);
    const p = createProgress({ stream: out });
    expect(p.active).to.equal(true);
    const src = observedSource(source(blobs), p, new Map());
    await src.root();
    for (const [digest, b] of Object.entries(blobs)) expect((await drain(await src.blob({ digest: digest as `sha256:${string}`, mediaType: LAYER, size: b.length }))).equals(b)).to.equal(true);
    const text = out.text();
    expect(text).to.match(/layer 1\/2 sha256:aa/);
    expect(text).to.match(/layer 2\/2 sha256:bb/);
    expect(text).to.match(/3\.0 MiB \/ 3\.0 MiB/);
    // the config blob is no layer: no bar
    await drain(await src.blob({ digest: 'sha256:bb', mediaType: 'application/vnd.oci.image.config.v1+json', size: 11 }));
    expect(out.text().match(/layer \d\/2/g)?.length).to.equal(text.match(/layer \d\/2/g)?.length);
  });
});
