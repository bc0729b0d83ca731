/**
 * Structured logs (pino, JSON lines on stderr). Secrets never reach logs: authorization headers,
 * passwords, tokens and registry credentials are redacted by path, and messages built from
 * registry errors carry URLs without credentials.
 */
import { pino, type Logger as PinoLogger } from 'pino';

/** Paths redacted in every log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'password',
  'token',
  'secret',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
  'auth.password',
  'auth.token',
  'registries[*].auth',
  'registries[*].webhook.token',
  'registries[*].webhook.previousTokens',
];

/** Creates the process logger writing JSON lines to stderr (fd 2), so stdout stays for reports. */
export function createLogger(level: string = 'info'): PinoLogger {
  return pino({ level, base: { svc: 'pushgate' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, pino.destination(2));
}
