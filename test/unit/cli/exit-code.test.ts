/**
 * `--exit-code N` of `pushgate scan`: the status of a blocking verdict. 2 is the status of an error,
 * so it is refused (a blocked image must never look like a failed scan).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { resolveScanFlags } from '../../../src/cli/scan-options.js';
import { isPushgateError } from '../../../src/core/errors.js';

const flags = (exitCode: string) => resolveScanFlags({ exitCode, dependencyTree: false, excludeBase: false }, 'oci:/nowhere');
const refusal = (exitCode: string): unknown => {
  try {
    flags(exitCode);
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('cli: scan --exit-code', () => {
  it('2 (and 02, 002: the same status) is refused, saying 2 means error', () => {
    for (const v of ['2', '02', '002']) {
      const e = refusal(v);
      expect(isPushgateError(e, 'BAD_ARGUMENT'), v).to.equal(true);
      expect((e as Error).message, v).to.match(/exits 2 on an error/);
    }
  });

  it('property: every status 0..255 but 2 is taken as given; 2 never is', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 2 }), (n, pad) => {
        const v = String(n).padStart(Math.min(3, String(n).length + pad), '0');
        if (n === 2) expect(isPushgateError(refusal(v), 'BAD_ARGUMENT')).to.equal(true);
        else expect(flags(v).exitCode).to.equal(n);
      }),
      { numRuns: 400 },
    );
  });
});
