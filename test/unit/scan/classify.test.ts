/** Blobs told apart by their bytes (src/scan/classify.ts): archives whatever their media type, data otherwise. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { isTarHeader, sniffBlob } from '../../../src/scan/classify.js';
import { tarHeaderSums } from '../../helpers/tar-sums.js';

describe('scan/classify: archive or data by content', () => {
  it('gzip, zstd and tar (ustar and v7) are archives; JSON, text and short blobs are data', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-classify-'));
    try {
      fs.writeFileSync(path.join(dir, 'f'), 'hello\n');
      const ustar = execFileSync('tar', ['-C', dir, '--format=ustar', '-cf', '-', 'f']);
      const v7 = execFileSync('tar', ['-C', dir, '--format=v7', '-cf', '-', 'f']);
      expect(isTarHeader(ustar)).to.equal(true);
      expect(isTarHeader(v7)).to.equal(true);
      expect(sniffBlob(ustar)).to.equal('archive');
      expect(sniffBlob(zlib.gzipSync(ustar))).to.equal('archive');
      expect(sniffBlob(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0]))).to.equal('archive');
      const broken = Buffer.from(ustar);
      broken[0] ^= 0x01; // the checksum no longer matches
      expect(isTarHeader(broken)).to.equal(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(sniffBlob(Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1","subject":[]}'.padEnd(600, ' ')))).to.equal('data');
    expect(sniffBlob(Buffer.from('{}'))).to.equal('data');
    expect(sniffBlob(Buffer.alloc(1024))).to.equal('data'); // an empty tar end block holds no files
  });

  it('a header is a tar header exactly when its checksum is the unsigned or the signed sum, as Go reads it (fast-check)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-classify-'));
    let ustar: Buffer;
    try {
      fs.writeFileSync(path.join(dir, 'f'), 'hello\n');
      ustar = execFileSync('tar', ['-C', dir, '--format=ustar', '-cf', '-', 'f']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const sums = tarHeaderSums;
    // Bytes written into the uname/gname fields (offsets 265-328), which Go reads as text.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.constantFrom('unsigned', 'signed', 'other'), fc.integer({ min: 1, max: 5000 }), (bytes, which, delta) => {
        const b = Buffer.from(ustar.subarray(0, 512));
        Buffer.from(bytes).copy(b, 265);
        const { unsigned, signed } = sums(b);
        const stored = which === 'unsigned' ? unsigned : which === 'signed' ? signed : unsigned + delta;
        if (stored < 0 || (which === 'other' && stored === signed)) return;
        b.fill(0x20, 148, 156);
        b.write(`${stored.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
        expect(isTarHeader(b), `${which} ${stored}`).to.equal(which !== 'other');
        expect(sniffBlob(b)).to.equal(which !== 'other' ? 'archive' : 'data');
      }),
      { numRuns: 500 },
    );
  });
});
