// The browser door: a WebSocket carrying one terminal session, started by the same
// single-use ticket as the native doors and recorded the same way. Frames: client sends
// JSON {type:'input', data} / {type:'resize', cols, rows}; server sends binary terminal
// output and JSON {type:'ready'|'end'|'error'}. The connections are carried for the
// browser terminal door (protocols/web-terminal.ts), which the server starts and closes.
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import type { Core } from '../../core/core.js';
import { normalizeIp, TicketRefused, type SessionHandle } from '../../core/broker.js';
import { actorOf } from '../../core/identity/principal.js';
import { openTerminal, TerminalOpenError } from '../../protocols/targets/open-terminal.js';
import type { TerminalTarget } from '../../protocols/targets/terminal.js';
import { WebTerminalDoor } from '../../protocols/web-terminal.js';
import { api, type RouteTypes } from '../contract/index.js';
import { addRoute, localPath, noContent } from '../contract-route.js';

const originHost = (origin: string): string | null => {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
};

const clamp = (n: number | undefined, lo: number, hi: number, d: number) => (typeof n === 'number' && Number.isFinite(n) ? Math.min(hi, Math.max(lo, Math.round(n))) : d);

export const terminalRoutes =
  (core: Core, door: WebTerminalDoor = WebTerminalDoor.open()): FastifyPluginAsync =>
  async (app) => {
    addRoute(app, api.launch.decline)((req, reply) => noContent(reply, core.launching.decline(req.principal!, req.body.ticket, req.ip)));

    // A WebSocket route: its handler takes the socket, so it is registered directly (with the contract's path and schema).
    app.get<{ Querystring: RouteTypes<typeof api.launch.terminal>['Querystring'] }>(
      localPath(app, api.launch.terminal),
      { websocket: true, schema: api.launch.terminal.schema },
      (socket: WebSocket, req) => {
        const p = req.principal!;
        const clientIp = normalizeIp(req.ip);
        const send = (o: Record<string, unknown>) => socket.readyState === socket.OPEN && socket.send(JSON.stringify(o));
        const fail = (message: string) => {
          send({ type: 'error', message });
          socket.close(1008, 'refused');
        };
        // Cross-site WebSocket hijacking: the page must come from this origin. An Origin that
        // is no URL ("null" from sandboxed or file: pages) is refused the same way, not thrown.
        const origin = req.headers.origin;
        if (origin && originHost(origin) !== req.headers.host) return fail('cross-origin terminal requests are refused');
        // A closed door (the gateway is stopping) takes no new terminal and ends those it still carries.
        const leave = door.admit(() => finish('gateway shutting down'));
        if (!leave) return fail('the gateway is shutting down; try again later');

        let handle: SessionHandle | null = null;
        let target: TerminalTarget | null = null;
        let ended = false;
        const pending: Buffer[] = [];
        const finish = (reason: string) => {
          if (ended) return;
          ended = true;
          leave();
          send({ type: 'end', reason });
          socket.close(1000, 'session ended');
          target?.close();
          void handle?.end(reason).catch((err) => req.log.error({ err: { message: (err as Error).message } }, 'session end failed'));
        };

        socket.on('message', (raw, isBinary) => {
          if (isBinary || ended) return;
          let msg: { type?: string; data?: unknown; cols?: unknown; rows?: unknown };
          try {
            msg = JSON.parse(raw.toString());
          } catch {
            return;
          }
          if (msg.type === 'input' && typeof msg.data === 'string' && msg.data.length <= 65536) {
            const data = Buffer.from(msg.data, 'utf8');
            if (!target) return void pending.push(data);
            handle!.input(data);
            target.write(data);
          } else if (msg.type === 'resize' && typeof msg.cols === 'number' && typeof msg.rows === 'number') {
            const cols = clamp(msg.cols, 10, 1000, 80);
            const rows = clamp(msg.rows, 5, 500, 24);
            target?.resize(cols, rows);
            handle?.resize(cols, rows);
          }
        });
        socket.on('close', () => finish('browser closed the connection'));
        socket.on('error', () => finish('browser connection error'));

        void (async () => {
          const q = req.query;
          const launcher = await core.launching.ticketLauncher(q.ticket);
          if (launcher?.record && q.consent !== '1') {
            await core.audit.record(actorOf(p, clientIp), { action: 'ticket.refused', outcome: 'failure', details: { reason: 'consent_missing', door: 'web' } });
            return fail('this session is recorded: agree to the recording first');
          }
          try {
            handle = await core.launching.redeem(q.ticket, { clientIp, door: 'web', expectUserId: p.userId, consented: q.consent === '1' });
          } catch (e) {
            if (e instanceof TicketRefused) return fail(e.reason === 'consent_required' ? 'this session is recorded: agree to the recording first' : 'the session could not be started (the launch may have expired or been used); launch again');
            throw e;
          }
          if (socket.readyState !== socket.OPEN) return void handle.end('browser left before the session started');
          const term = { cols: clamp(q.cols, 10, 1000, 80), rows: clamp(q.rows, 5, 500, 24), term: q.term ?? 'xterm-256color' };
          // Not recordable (fail closed): the session is already terminated; say so in the error frame, then end.
          if (!handle.begin(term)) send({ type: 'error', message: 'the session could not be started; try again later' });
          handle.onTerminate((reason) => finish(reason));
          // A notice (the approved access ends soon) is written to the terminal like output.
          handle.onNotice((text) => socket.readyState === socket.OPEN && socket.send(Buffer.from(`\r\n[gatehouse] ${text}\r\n`), { binary: true }));
          if (ended) return;
          try {
            target = await openTerminal(handle, term);
          } catch (e) {
            const message = e instanceof TerminalOpenError ? e.message : 'cannot reach the target';
            send({ type: 'error', message });
            return finish(e instanceof TerminalOpenError ? e.endReason : message);
          }
          if (ended) return target.close();
          target.on('data', (d: Buffer) => {
            handle!.output(d);
            if (socket.readyState === socket.OPEN) socket.send(d, { binary: true });
          });
          target.on('close', (reason?: string) => finish(reason ?? 'the target closed the connection'));
          send({ type: 'ready', sessionId: handle.id });
          for (const d of pending.splice(0)) {
            handle.input(d);
            target.write(d);
          }
        })().catch((err) => {
          req.log.error({ err: { message: (err as Error).message } }, 'browser terminal failed');
          fail('internal error; the server log has details');
        });
      },
    );
  };
