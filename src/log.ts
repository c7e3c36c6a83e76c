// One pino logger for the process. Redaction is a second line of defence: code never
// logs secret values, request bodies or tokens in the first place.
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { redactTickets } from './core/launch/ticket-text.js';

export const REDACT = [
  'password',
  'newPassword',
  'currentPassword',
  'token',
  'ticket',
  'secret',
  'clientSecret',
  'client_secret',
  'privateKey',
  'passphrase',
  'fields',
  'totp',
  '*.password',
  '*.newPassword',
  '*.token',
  '*.ticket',
  '*.secret',
  '*.clientSecret',
  '*.privateKey',
  '*.passphrase',
  '*.fields',
  '*.totp',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

/**
 * Launch tickets travel in a few query strings (.rdp download, browser terminal): never log
 * them, nor a ticket (or token) put anywhere else in a URL by mistake (another parameter, the path).
 */
export const scrubUrl = (url: string): string =>
  redactTickets(
    url
      // code and state: an OIDC callback's authorization code (some providers' are UUID-shaped,
      // which the ticket pattern below leaves alone); ApiApplicationKey: OpenPSM's /start key.
      .replace(/([?&](?:ticket|token|access_token|ApiKey|ApiApplicationKey|code|state|rsabase64nojs|WinPassword|WinLPWphrase|pwd|pass|passwd|password)=)[^&#]*/gi, '$1[redacted]')
      // Logon tickets (seed 004) travel as html5.html's "user" parameter.
      .replace(/(\/software\/html5\.html\?(?:[^#]*&)?user=)[^&#]*/gi, '$1[redacted]'),
  );

function serializeRequest(req: { method?: string; url?: string; headers?: Record<string, unknown>; ip?: string; socket?: { remoteAddress?: string; remotePort?: number } }) {
  return { method: req.method, url: scrubUrl(req.url ?? ''), host: req.headers?.host, remoteAddress: req.ip ?? req.socket?.remoteAddress, remotePort: req.socket?.remotePort };
}

export function createLogger(opts: { level: string; dataDir?: string; stream?: NodeJS.WritableStream }): Logger {
  const base = { level: opts.level, redact: { paths: REDACT, censor: '[redacted]' }, serializers: { req: serializeRequest } };
  if (opts.stream) return pino(base, opts.stream as pino.DestinationStream);
  const streams: pino.StreamEntry[] = [{ level: opts.level as pino.Level, stream: process.stdout }];
  if (opts.dataDir) {
    mkdirSync(join(opts.dataDir, 'logs'), { recursive: true, mode: 0o700 });
    // Open the file synchronously: a destination still opening when the process exits
    // (e.g. start-up failing fast) makes pino's exit flush throw "sonic boom is not ready yet".
    const fd = openSync(join(opts.dataDir, 'logs', 'gatehouse.log'), 'a', 0o600);
    streams.push({ level: opts.level as pino.Level, stream: pino.destination({ dest: fd, sync: false }) });
  }
  return pino(base, pino.multistream(streams));
}
