// The browser terminal's pump, one for every route that carries a terminal session over a
// WebSocket (the launch-ticket terminal in routes/terminal.ts, the OpenPSM start page in
// routes/openpsm.ts). How the session is obtained differs per route (a ticket redeemed, an
// OpenPSM start opened) and is passed in as `open`; everything after it is the same: the
// origin check, the door's admission, JSON input/resize frames in, binary output out, the
// session's notices and termination, and one way to end. Frames: the client sends JSON
// {type:'input', data} / {type:'resize', cols, rows}; the server sends binary terminal output
// and JSON {type:'ready', sessionId} / {type:'end', reason} / {type:'error', message}.
// Memory is bounded both ways: input that waits for the target to be ready is capped (and none
// is taken once the socket closes); once it is, the WebSocket is not read while the target does
// not take the input (a paste into a target that reads slowly) or the recording is behind; and
// the target is not read while the browser is behind.
// Shared control (core/sessions/sharing.ts): joiners' input is written to the same target,
// and the owner is sent {type:'join', event, requestId, user, text}; a request is answered
// with the client frame {type:'join-answer', requestId, accept}.
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { SessionHandle, TerminalInfo } from '../core/broker.js';
import { openTerminal, TerminalOpenError } from '../protocols/targets/open-terminal.js';
import { drained } from '../protocols/drained.js';
import { inputFlow, recordingBrake, type TerminalTarget } from '../protocols/targets/terminal.js';
import type { WebTerminalDoor } from '../protocols/web-terminal.js';
import { holdable } from './ws-hold.js';

/** The largest input frame taken (characters); larger ones are dropped. */
export const MAX_INPUT_CHARS = 65536;

/**
 * Input that arrives before the target is ready (it may take 15 s to connect to an SSH
 * target, about 30 s to log in to a Telnet one) is kept and written once it is, up to this
 * many bytes: typing and a paste (one frame, at most 64 KiB, the WebSocket's maxPayload)
 * fit several times over. Past it the connection is refused with the reason rather than
 * input dropped silently: a shell that got only part of what was typed runs something else.
 */
export const MAX_PENDING_INPUT_BYTES = 256 * 1024;

/**
 * Output waiting for the browser (the WebSocket's bufferedAmount) past which the target is
 * no longer read; reading goes on once the browser took it. Without it, `cat` of a large
 * file to a browser that reads slowly fills the gateway's memory at the target's speed.
 */
export const OUTPUT_HIGH_WATER = 1024 * 1024;

/**
 * How long a refused client may take to answer the close frame before its socket is cut.
 * ws would wait 30 s, and keeps parsing what the client sends meanwhile; a browser answers
 * at once, so this only cuts short clients that do not.
 */
export const REFUSED_CLOSE_GRACE_MS = 2000;

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
  /**
   * An error frame, then the socket closes (its close event ends the connection); cut if the
   * client has not answered the close within REFUSED_CLOSE_GRACE_MS.
   */
  fail(message: string): void;
  /** Ends once: the door lets go, the client is told why, the socket closes, then `onEnd`. */
  finish(reason: string): void;
  readonly ended: boolean;
}

/** Cuts a socket this side is closing unless the client answered the close within REFUSED_CLOSE_GRACE_MS. */
function cutAfterGrace(socket: WebSocket): void {
  const cut = setTimeout(() => socket.terminate(), REFUSED_CLOSE_GRACE_MS).unref();
  socket.once('close', () => clearTimeout(cut));
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
    cutAfterGrace(socket);
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

/** What a relay holds, for tests and diagnostics. */
export interface RelayState {
  /** Bytes of input waiting for the target to be ready. */
  readonly pendingInputBytes: number;
}

/** Pumps one browser terminal session between a WebSocket and its target until either ends. */
export function relayTerminal(socket: WebSocket, req: RelayRequest, o: RelayOptions): RelayState {
  let handle: SessionHandle | null = null;
  let target: TerminalTarget | null = null;
  /** Takes the person's input once the target is ready (with backpressure, see inputFlow). */
  let input: ((d: Buffer) => void) | null = null;
  /** The WebSocket as inputFlow holds it (read now and then while held: a browser that left is noticed). */
  const held = holdable(socket);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let endReason: string | null = null;
  const state: RelayState = {
    get pendingInputBytes() {
      return pendingBytes;
    },
  };
  const dropPending = () => {
    pending = [];
    pendingBytes = 0;
  };
  const ch = admitTerminal(socket, req, o.door, 'session ended', (reason) => {
    endReason = reason;
    dropPending();
    target?.close();
    void handle?.end(reason).catch((err) => req.log.error({ err: { message: (err as Error).message } }, 'session end failed'));
  });
  if (!ch) return state;
  const { send, finish } = ch;
  const fail = (message: string) => {
    dropPending();
    ch.fail(message);
  };

  socket.on('message', (raw, isBinary) => {
    // Once the socket is closing (refused, ended) nothing more is taken: ws still delivers
    // messages until the client answers the close, and a client that never does could
    // otherwise have them buffered for the target that will not come.
    if (ch.ended || socket.readyState !== socket.OPEN) return;
    const f = parseFrame(raw, isBinary);
    if (!f) return;
    const data = inputOf(f);
    if (data) {
      if (!input) {
        if (pendingBytes + data.length > MAX_PENDING_INPUT_BYTES) {
          const reason = 'too much input before the session was ready';
          send({ type: 'error', message: `${reason} (more than ${MAX_PENDING_INPUT_BYTES / 1024} KiB); nothing of it was sent` });
          finish(reason);
          return cutAfterGrace(socket);
        }
        pending.push(data);
        pendingBytes += data.length;
        return;
      }
      held.took(data.length);
      input(data);
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
    if (ch.ended || socket.readyState !== socket.OPEN) return void handle.end(endReason ?? 'browser left before the session started').catch((err) => req.log.error({ err: { message: (err as Error).message } }, 'session end failed'));
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
    const t = target;
    // Backpressure toward the browser: past the high-water mark the target is held until the
    // frames sent so far were handed to the socket (ws has no 'drain'; a send's callback runs
    // once its frame, and so every frame before it, was written). And toward the recording,
    // as the SSH door does (ssh/relay.ts): while it is behind, the target is not read.
    let heldForBrowser = false;
    const brake = recordingBrake(h, t);
    const sent = (err?: Error) => {
      if (err || !heldForBrowser || socket.bufferedAmount >= OUTPUT_HIGH_WATER) return;
      heldForBrowser = false;
      t.release('browser');
    };
    t.on('data', (d: Buffer) => {
      h.output(d);
      if (socket.readyState !== socket.OPEN) return;
      socket.send(d, { binary: true }, sent);
      if (!heldForBrowser && socket.bufferedAmount >= OUTPUT_HIGH_WATER) {
        heldForBrowser = true;
        t.hold('browser');
      }
      brake();
    });
    t.on('close', (reason?: string) => finish(reason ?? 'the target closed the connection'));
    send({ type: 'ready', sessionId: h.id });
    // Backpressure from the target (and the recording) on the input: the WebSocket's socket is
    // paused (ws stops reading it; a frame or two it already read may still be delivered), so
    // what the browser sends waits in TCP and the browser instead of in this process.
    input = inputFlow(h, t, held);
    for (const d of pending) input(d);
    dropPending();
    h.onJoinInput((d) => (t.write(d) ? undefined : drained(t)));
    h.onJoin((e) => send({ type: 'join', event: e.type, requestId: e.requestId, user: e.user.username, text: e.text }));
  })().catch((err) => {
    req.log.error({ err: { message: (err as Error).message } }, `${o.what} failed`);
    fail('internal error; the server log has details');
  });
  return state;
}
