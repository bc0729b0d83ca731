/**
 * The push proxy without TLS on an address other hosts reach is warned about at start (pushers send the
 * registry's credentials through it); on loopback or with TLS it is not.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { clearTextWarning } from '../../../src/proxy/proxy.js';

const port = fc.integer({ min: 0, max: 65535 });
const loopback = fc.oneof(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `127.${a}.${b}.${c}`),
  fc.constantFrom('[::1]', 'localhost', 'LOCALHOST'),
);
const reachable = fc.oneof(
  fc.constantFrom('', '0.0.0.0', '[::]', 'pushgate.example.com', '10.0.0.5', '[::ffff:a00:5]', '128.0.0.1'),
  fc.tuple(fc.integer({ min: 0, max: 255 }).filter((a) => a !== 127), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.')),
);

describe('proxy: the clear-text warning', () => {
  it('names the listener when it has no TLS and other hosts reach it', () => {
    fc.assert(
      fc.property(reachable, port, (host, p) => {
        const w = clearTextWarning(`${host}:${p}`, false);
        return w !== undefined && w.includes(`${host}:${p}`) && /proxy\.tls/.test(w);
      }),
    );
  });
  it('is silent on loopback, and with TLS anywhere', () => {
    fc.assert(fc.property(loopback, port, (host, p) => clearTextWarning(`${host}:${p}`, false) === undefined));
    fc.assert(fc.property(fc.oneof(loopback, reachable), port, (host, p) => clearTextWarning(`${host}:${p}`, true) === undefined));
    expect(clearTextWarning('0.0.0.0:5000', false)).to.match(/^push proxy listens WITHOUT TLS on 0\.0\.0\.0:5000/);
  });
});
