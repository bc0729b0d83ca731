/**
 * Answers in the registry error format (distribution-spec "Error Codes", protocols.md §4.8):
 * `{"errors":[{"code":"<UPPER_SNAKE>","message":"…","detail":…}]}`. Clients print
 * `<code description>: <message>` (containers/image, docker, crane), so the message is what a
 * pusher reads.
 */
import type http from 'node:http';

/** One error of a registry error body. */
export interface RegistryErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

/**
 * Sends `status` with a registry error body, unless headers were already sent (then the
 * connection is destroyed, the only signal left). `extraHeaders` are added as given.
 */
export function sendRegistryError(
  res: http.ServerResponse,
  status: number,
  err: RegistryErrorBody,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify({ errors: [err] }));
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(body.length),
    'Docker-Distribution-API-Version': 'registry/2.0',
    ...extraHeaders,
  });
  res.end(body);
}
