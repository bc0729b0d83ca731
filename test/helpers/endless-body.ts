/**
 * An HTTP answer body that goes on for as long as the test lets it: blank 256 KiB chunks written with
 * backpressure until `limit` bytes are out or the client goes away, for tests of clients that must stop
 * reading (a hostile server's endless answer).
 */
import type http from 'node:http';

/**
 * Writes blank chunks to `res` until `limit` bytes are sent or the connection is destroyed, then ends it.
 * @param count called with each chunk's size as it is written (the test's tally of what was sent).
 */
export function streamBlankBody(res: http.ServerResponse, limit: number, count: (bytes: number) => void): void {
  const chunk = Buffer.alloc(256 * 1024, 0x20);
  let sent = 0;
  const pump = (): void => {
    while (!res.destroyed && sent < limit) {
      sent += chunk.length;
      count(chunk.length);
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}
