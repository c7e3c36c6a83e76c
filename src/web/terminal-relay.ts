// The browser terminal's pump, one for every route that carries a terminal session over a
// WebSocket (the launch-ticket terminal in routes/terminal.ts, the OpenPSM start page in
// routes/openpsm.ts). How the session is obtained differs per route (a ticket redeemed, an
// OpenPSM start opened) and is passed in as `open`; everything after it is the same: the
// origin check, the door's admission, JSON input/resize frames in, binary output out, the
// session's notices and termination, and one way to end. Frames: the client sends JSON
// {type:'input', data} / {type:'resize', cols, rows}; the server sends binary terminal output
// and JSON {type:'ready', sessionId} / {type:'end', reason} / {type:'error', message}.
// Shared control (core/sessions/sharing.ts): joiners' input is written to the same target,
// and the owner is sent {type:'join', event, requestId, user, text}; a request is answered
// with the client frame {type:'join-answer', requestId, accept}.
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { SessionHandle, TerminalInfo } from '../core/broker.js';
import { openTerminal, TerminalOpenError } from '../protocols/targets/open-terminal.js';
import type { TerminalTarget } from '../protocols/targets/terminal.js';
import type { WebTerminalDoor } from '../protocols/web-terminal.js';

/** The largest input frame taken (characters); larger ones are dropped. */
export const MAX_INPUT_CHARS = 65536;

const originHost = (origin: string): string | null => {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
};

export const clamp = (n: number | undefined, lo: number, hi: number, d: number) => (typeof n === 'number' && Number.isFinite(n) ? Math.min(hi, Math.max(lo, Math.round(n))) : d);

/** A terminal size from numbers a client sent (bounded, defaults 80×24). */
export const terminalSize = (cols: number | undefined, rows: number | undefined, term = 'xterm-256color'): TerminalInfo => ({ cols: clamp(cols, 10, 1000, 80), rows: clamp(rows, 5, 500, 24), term });

/** A client frame of the terminal protocol, parsed; null when it is none. */
export type ClientFrame = { type: 'input'; data: string } | { type: 'resize'; cols: number; rows: number } | { type: string; [k: string]: unknown };

export function parseFrame(raw: unknown, isBinary: boolean): ClientFrame | null {
  if (isBinary) return null;
  try {
    const msg = JSON.parse(String(raw)) as unknown;
    return msg && typeof msg === 'object' && typeof (msg as { type?: unknown }).type === 'string' ? (msg as ClientFrame) : null;
  } catch {
    return null;
  }
}

/** An input frame's bytes, or null when the frame is no valid input. */
export const inputOf = (f: ClientFrame): Buffer | null => (f.type === 'input' && typeof f.data === 'string' && f.data.length <= MAX_INPUT_CHARS ? Buffer.from(f.data, 'utf8') : null);

/** Whether a WebSocket's page comes from this origin (cross-site WebSocket hijacking); an Origin that is no URL ("null") is refused. */
export const sameOrigin = (origin: string | undefined, host: string | undefined): boolean => !origin || originHost(origin) === host;

export interface RelayRequest {
  origin: string | undefined;
  host: string | undefined;
  log: FastifyBaseLogger;
}

export interface RelayOptions {
  door: WebTerminalDoor;
  /** The terminal the browser announced. */
  term: TerminalInfo;
  /**
   * Obtains the session: a handle, or `{refused}` with the message for the person (the
   * reason has been logged and audited by whoever refused).
   */
  open: () => Promise<SessionHandle | { refused: string }>;
  /** What the server log calls a failure of this relay. */
  what: string;
}

export interface TerminalChannel {
  send(m: Record<string, unknown>): void;
  /** An error frame, then the socket closes (its close event ends the connection). */
  fail(message: string): void;
  /** Ends once: the door lets go, the client is told why, the socket closes, then `onEnd`. */
  finish(reason: string): void;
  readonly ended: boolean;
}

/**
 * What every terminal WebSocket does first and last (the person's terminal here, a joiner's
 * in routes/sharing.ts): refuse another origin, be admitted by the door (which ends it when
 * the gateway stops), and end exactly once when the browser, the target or the core ends it.
 * Null when refused (the client has been told).
 */
export function admitTerminal(socket: WebSocket, req: Pick<RelayRequest, 'origin' | 'host'>, door: WebTerminalDoor, closeText: string, onEnd: (reason: string) => void): TerminalChannel | null {
  const send = (m: Record<string, unknown>) => void (socket.readyState === socket.OPEN && socket.send(JSON.stringify(m)));
  const fail = (message: string) => {
    send({ type: 'error', message });
    socket.close(1008, 'refused');
  };
  if (!sameOrigin(req.origin, req.host)) return fail('cross-origin terminal requests are refused'), null;
  const leave = door.admit(() => ch.finish('gateway shutting down'));
  if (!leave) return fail('the gateway is shutting down; try again later'), null;
  let ended = false;
  const ch: TerminalChannel = {
    send,
    fail,
    finish: (reason) => {
      if (ended) return;
      ended = true;
      leave();
      send({ type: 'end', reason });
      socket.close(1000, closeText);
      onEnd(reason);
    },
    get ended() {
      return ended;
    },
  };
  socket.on('close', () => ch.finish('browser closed the connection'));
  socket.on('error', () => ch.finish('browser connection error'));
  return ch;
}

/** Pumps one browser terminal session between a WebSocket and its target until either ends. */
export function relayTerminal(socket: WebSocket, req: RelayRequest, o: RelayOptions): void {
  let handle: SessionHandle | null = null;
  let target: TerminalTarget | null = null;
  const pending: Buffer[] = [];
  const ch = admitTerminal(socket, req, o.door, 'session ended', (reason) => {
    target?.close();
    void handle?.end(reason).catch((err) => req.log.error({ err: { message: (err as Error).message } }, 'session end failed'));
  });
  if (!ch) return;
  const { send, fail, finish } = ch;

  socket.on('message', (raw, isBinary) => {
    if (ch.ended) return;
    const f = parseFrame(raw, isBinary);
    if (!f) return;
    const data = inputOf(f);
    if (data) {
      if (!target) return void pending.push(data);
      handle!.input(data);
      target.write(data);
    } else if (f.type === 'resize' && typeof f.cols === 'number' && typeof f.rows === 'number') {
      const { cols, rows } = terminalSize(f.cols, f.rows);
      target?.resize(cols, rows);
      handle?.resize(cols, rows);
    } else if (f.type === 'join-answer' && typeof f.requestId === 'string' && f.requestId.length <= 128 && handle) {
      void handle.answerJoin(f.requestId, f.accept === true);
    }
  });

  void (async () => {
    const opened = await o.open();
    if ('refused' in opened) return fail(opened.refused);
    handle = opened;
    if (socket.readyState !== socket.OPEN) return void handle.end('browser left before the session started').catch((err) => req.log.error({ err: { message: (err as Error).message } }, 'session end failed'));
    // Not recordable (fail closed): the session is already terminated; say so in the error frame, then end.
    if (!handle.begin(o.term)) send({ type: 'error', message: 'the session could not be started; try again later' });
    handle.onTerminate((reason) => finish(reason));
    // A notice (the approved access ends soon) is written to the terminal like output.
    handle.onNotice((text) => socket.readyState === socket.OPEN && socket.send(Buffer.from(`\r\n[gatehouse] ${text}\r\n`), { binary: true }));
    if (ch.ended) return;
    try {
      target = await openTerminal(handle, o.term);
    } catch (e) {
      const message = e instanceof TerminalOpenError ? e.message : 'cannot reach the target';
      send({ type: 'error', message });
      return finish(e instanceof TerminalOpenError ? e.endReason : message);
    }
    if (ch.ended) return target.close();
    const h = handle;
    target.on('data', (d: Buffer) => {
      h.output(d);
      if (socket.readyState === socket.OPEN) socket.send(d, { binary: true });
    });
    target.on('close', (reason?: string) => finish(reason ?? 'the target closed the connection'));
    send({ type: 'ready', sessionId: h.id });
    for (const d of pending.splice(0)) {
      h.input(d);
      target.write(d);
    }
    const t = target;
    h.onJoinInput((d) => t.write(d));
    h.onJoin((e) => send({ type: 'join', event: e.type, requestId: e.requestId, user: e.user.username, text: e.text }));
  })().catch((err) => {
    req.log.error({ err: { message: (err as Error).message } }, `${o.what} failed`);
    fail('internal error; the server log has details');
  });
}
