// A small HTTPS JSON client for the CLI. The server's certificate is pinned on first
// login (trust on first use, like ssh) unless a CA file is given; the token and pin live
// in a 0600 file.
import { request, type RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BodyInput, ErrorBody, Ok, Params, QueryInput, Route } from '../web/contract/index.js';

export interface CliState {
  url: string;
  token?: string;
  username?: string;
  fingerprint256?: string;
  caFile?: string;
}

export const stateFile = () => process.env.GATEHOUSE_CLI_STATE ?? join(homedir(), '.config', 'gatehouse', 'cli.json');

export function loadState(): CliState | null {
  const f = stateFile();
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as CliState;
  } catch {
    return null;
  }
}

export function saveState(s: CliState): void {
  const f = stateFile();
  mkdirSync(dirname(f), { recursive: true, mode: 0o700 });
  writeFileSync(f, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  chmodSync(f, 0o600);
}

export function clearState(): void {
  rmSync(stateFile(), { force: true });
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  fingerprint256?: string;
}

export function call(state: CliState, method: string, path: string, body?: unknown, opts: { pin?: boolean; raw?: boolean } = {}): Promise<Response> {
  const url = new URL(path, state.url);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const ca = state.caFile ? readFileSync(state.caFile) : undefined;
  let fingerprint256: string | undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...(state.token ? { authorization: `Bearer ${state.token}` } : {}),
        },
        // Our own TLS connection, so the pin is checked after the handshake and before the
        // request (and its token) is written. With a CA file the chain and name are verified
        // as usual; otherwise (self-signed) the pinned fingerprint is the trust anchor.
        createConnection: (_o: unknown, done: (err: Error | null, socket?: TLSSocket) => void) => {
          const sock = tlsConnect({
            host: url.hostname.replace(/^\[|\]$/g, ''),
            port: Number(url.port || 443),
            ...(isIP(url.hostname.replace(/^\[|\]$/g, '')) ? {} : { servername: url.hostname }),
            ca,
            rejectUnauthorized: !!ca,
          });
          const fail = (e: Error) => {
            sock.destroy();
            done(e);
          };
          sock.once('error', fail);
          sock.once('secureConnect', () => {
            sock.off('error', fail);
            fingerprint256 = sock.getPeerCertificate()?.fingerprint256;
            if (!ca && state.fingerprint256 && fingerprint256 !== state.fingerprint256) {
              return fail(new Error(`server certificate changed (pinned ${state.fingerprint256}, got ${fingerprint256}); refusing to connect. If this is expected, run \`gatehouse logout\` and \`gatehouse login\` again`));
            }
            done(null, sock);
          });
        },
        timeout: 120_000,
      } as RequestOptions,
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), fingerprint256 });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ECONNREFUSED' ? new Error(`cannot reach ${state.url}: connection refused (is \`gatehouse serve\` running?)`) : e));
    if (payload) req.write(payload);
    req.end();
  });
}

/** The body of a JSON answer, or undefined when there is none or it is not JSON. */
export function parseJson(res: Response): unknown {
  const text = res.body.toString('utf8');
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** An error answer as an ApiError (the uniform {error: {code, message}}, else the status). */
export function apiError(res: Response, parsed: unknown = parseJson(res)): ApiError {
  const err = (parsed as Partial<ErrorBody> | undefined)?.error;
  if (res.status === 401 && err?.code === 'unauthorized') return new ApiError(401, 'unauthorized', `${err.message}; run \`gatehouse login\``);
  return new ApiError(res.status, err?.code ?? 'error', err?.message ?? `HTTP ${res.status}`);
}

type Has<T, K extends string> = [T] extends [never] ? { [P in K]?: never } : undefined extends T ? { [P in K]?: T } : { [P in K]: T };
/** What a call of `R` needs: its path parameters, query and body, typed by the contract. */
export type CallInput<R extends Route> = Has<Params<R>, 'params'> & Has<QueryInput<R>, 'query'> & Has<BodyInput<R>, 'body'>;

/** The path of a contract route with its parameters filled in and its query appended. */
export function pathOf(r: Route, input: { params?: object; query?: object }): string {
  const params = (input.params ?? {}) as Record<string, unknown>;
  const path = r.url.replace(/:(\w+)/g, (_m, k: string) => encodeURIComponent(String(params[k])));
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(input.query ?? {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * Calls a route of the API contract (src/web/contract) and returns its answer, typed by the
 * contract: `await callApi(state, api.users.list, { query: { limit: 500 } })`.
 */
export async function callApi<R extends Route>(state: CliState, r: R, ...[input]: {} extends CallInput<R> ? [input?: CallInput<R>] : [input: CallInput<R>]): Promise<Ok<R>> {
  const i = (input ?? {}) as { params?: object; query?: object; body?: unknown };
  const res = await call(state, r.method, pathOf(r, i), i.body ?? (r.schema.body ? {} : undefined));
  const parsed = parseJson(res);
  if (res.status >= 400) throw apiError(res, parsed);
  return parsed as Ok<R>;
}
