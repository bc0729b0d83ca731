/** Helpers for registry-client tests. */
import { expect } from 'chai';
import { RegistryError } from '../../src/registry/errors.js';

/** Awaits `p`, expecting it to reject with a RegistryError, and returns that error. */
export async function rejects(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(RegistryError);
    return e as RegistryError;
  }
  throw new Error('expected a rejection');
}
