import { expect } from 'chai';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { oneOffCredentials } from '../../../src/cli/scan-state-options.js';

/**
 * Runs `fn` with process.stdin's getter replaced by one that counts its uses (and still returns the
 * real stream): Node makes that stream on first use, which costs a scan start-up 5-10 ms.
 */
async function countingStdin<T>(fn: () => Promise<T>): Promise<{ result: T; uses: number }> {
  const own = Object.getOwnPropertyDescriptor(process, 'stdin')!;
  let uses = 0;
  Object.defineProperty(process, 'stdin', { configurable: true, enumerable: own.enumerable, get: () => { uses++; return own.get ? own.get.call(process) : own.value; } });
  try {
    return { result: await fn(), uses };
  } finally {
    Object.defineProperty(process, 'stdin', own);
  }
}

describe('cli: oneOffCredentials', () => {
  it('without --username/--password-stdin: no credentials, and process.stdin is never looked at', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(fc.constantFrom('oci:', 'archive:', 'dir:', 'sbom:', ''), fc.string()).chain((p) => fc.string().map((rest) => p + rest)),
      async (target) => {
        const { result, uses } = await countingStdin(() => oneOffCredentials(target, {}));
        expect(result).to.equal(undefined);
        expect(uses, 'process.stdin used').to.equal(0);
      },
    ), { numRuns: 50 });
  });

  it('with both: the password is what the given stream holds, less one trailing newline', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ minLength: 1 }).filter((s) => Buffer.from(s).toString('utf8') === s), fc.constantFrom('', '\n', '\r\n'), async (pw, nl) => {
      const want = (pw + nl).replace(/\r?\n$/, '');
      fc.pre(want !== '');
      const { result, uses } = await countingStdin(() => oneOffCredentials('registry.example/app:1', { username: 'u', passwordStdin: true }, Readable.from([Buffer.from(pw + nl)])));
      expect(result).to.deep.equal({ username: 'u', password: want });
      expect(uses).to.equal(0);
    }), { numRuns: 50 });
  });
});
