/** Loopback ports for tests. */
import net from 'node:net';

/**
 * A free loopback TCP port chosen by the kernel, closed again before it resolves: for programs that cannot
 * report an ephemeral port back, and for "nothing listens here" (ECONNREFUSED) cases.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
