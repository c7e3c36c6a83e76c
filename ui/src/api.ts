// Every call to the Gatehouse API goes through here: same-origin cookie session, the CSRF
// header on anything that changes state, uniform errors, and one place that notices an
// expired session (any 401) so the app can return to sign-in.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error object's other fields (e.g. lockedUntil, retryAfter). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

const csrf = () => readCookie('__Host-gh_csrf') ?? csrfToken;

export const apiUrl = (path: string) => (path.startsWith('/api/') || path.startsWith('/healthz') ? path : `/api/v1${path}`);

export interface RequestOptions {
  signal?: AbortSignal;
  /** Do not treat a 401 as an expired session (sign-in itself answers 401 for wrong passwords). */
  anonymous?: boolean;
}

export async function request<T = unknown>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const t = csrf();
    if (t) headers['x-csrf-token'] = t;
  }
  let res: Response;
  try {
    res = await fetch(apiUrl(path), {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Gatehouse cannot be reached. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
    const e = new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `The server answered ${res.status} ${res.statusText}.`, err && typeof err === 'object' ? err : {});
    if (res.status === 401 && !opts.anonymous) onUnauthorized?.();
    throw e;
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body: unknown = {}, opts?: RequestOptions) => request<T>('POST', path, body, opts),
  patch: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PATCH', path, body, opts),
  put: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PUT', path, body, opts),
  del: <T = void>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, undefined, opts),
};

/** Fetches a text resource (e.g. an asciicast) with the session cookie. */
export async function fetchText(path: string, signal?: AbortSignal): Promise<string> {
  return (await fetchOk(path, signal)).text();
}

/** Fetches a binary resource (e.g. an RDP recording) with the session cookie. */
export async function fetchBytes(path: string, signal?: AbortSignal): Promise<Uint8Array> {
  return new Uint8Array(await (await fetchOk(path, signal)).arrayBuffer());
}

async function fetchOk(path: string, signal?: AbortSignal): Promise<Response> {
  const res = await fetch(apiUrl(path), { credentials: 'same-origin', signal });
  if (!res.ok) {
    let message = `The server answered ${res.status} ${res.statusText}.`;
    let code = `http_${res.status}`;
    try {
      const j = (await res.json()) as { error?: { code: string; message: string } };
      if (j.error) ({ code, message } = j.error);
    } catch {
      /* not JSON */
    }
    if (res.status === 401) onUnauthorized?.();
    throw new ApiError(res.status, code, message);
  }
  return res;
}

/** Turns an API message ("current password is wrong") into a sentence for people. */
export function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  const first = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?…)]$/.test(first) ? first : first + '.';
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'forbidden' || e.code === 'insufficient_scope') return sentence(`You are not allowed to do this: ${e.message}`);
    if (e.code === 'csrf_failed') return 'Your browser session is out of step with the server. Reload the page and try again.';
    if (e.status >= 500) return 'Something went wrong on the server. Try again; if it keeps happening, the server log has details.';
    return sentence(e.message);
  }
  if (e instanceof Error) return sentence(e.message);
  return 'Something went wrong.';
}

export const qs = (params: Record<string, string | number | boolean | undefined | null>) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};
