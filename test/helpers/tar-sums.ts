/**
 * The two sums Go's archive/tar accepts as a header checksum (getFormat): the 512-byte block's bytes
 * added with the checksum field (offsets 148..156) read as spaces, once unsigned and once as int8.
 * A model for tests, written out plainly; the reader's own code is src/scan/tar-reader.ts.
 */
export function tarHeaderSums(block: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return { unsigned, signed };
}
