/** Blobs told apart by their bytes (src/scan/classify.ts): archives whatever their media type, data otherwise. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { isTarHeader, sniffBlob } from '../../../src/scan/classify.js';

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
});
