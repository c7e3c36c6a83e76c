// Shared control, the joiner's side: a terminal on someone else's live session, opened from a
// join request (waits until the owner accepts) or an invitation. Output comes down the
// WebSocket like the person's own terminal; what is typed here is recorded under your name.
// An RDP session shows its screen as the live view draws it (the feed's records) and sends
// keys (by scancode), pointer and wheel events, which the gateway injects into the session.
import { useEffect, useRef, useState } from 'react';
import { createLiveFeed, RdpLive } from '../rdp/RdpLive';
import type { RdpLiveFeed } from '../rdp/stream';
import { scancodeOf } from '../rdp/scancodes';
import { Icon } from '../components/Icon';
import { Alert, Button } from '../components/ui';
import { useTitle } from '../hooks';
import { Link } from '../router';
import { createTerminal } from '../xterm';
import './terminal.css';

type Phase = { kind: 'connecting' } | { kind: 'pending' } | { kind: 'joined'; owner: string } | { kind: 'ended'; reason: string } | { kind: 'refused'; message: string };

export default function JoinSession({ id, joinId }: { id: string; joinId: string }) {
  useTitle('Shared session');
  const [phase, setPhase] = useState<Phase>({ kind: 'connecting' });
  const box = useRef<HTMLDivElement>(null);
  const wsRef = useRef<WebSocket | null>(null);
  const [feed, setFeed] = useState<RdpLiveFeed | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    // The terminal is made once the session says it is one (an RDP session shows a screen instead).
    let termRef: ReturnType<typeof createTerminal>['term'] | null = null;
    let rdp: RdpLiveFeed | null = null;
    const terminal = () => {
      if (termRef) return termRef;
      const { term } = createTerminal(el);
      term.onData((data) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'input', data })));
      return (termRef = term);
    };
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/api/v1/sessions/${encodeURIComponent(id)}/joins/${encodeURIComponent(joinId)}/terminal`);
    ws.binaryType = 'arraybuffer';
    wsRef.current = ws;
    let settled = false;
    ws.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) return terminal().write(new Uint8Array(ev.data));
      const msg = JSON.parse(String(ev.data)) as { type?: string; owner?: string; cols?: number; rows?: number; reason?: string; message?: string; screen?: boolean; header?: unknown; keyframe?: unknown; data?: string };
      if (msg.type === 'pending') setPhase({ kind: 'pending' });
      else if (msg.type === 'screen') {
        rdp = createLiveFeed(msg.header as Parameters<typeof createLiveFeed>[0]);
        setFeed(rdp);
      } else if (msg.type === 'keyframe' && rdp) void rdp.keyframe(msg.keyframe as Parameters<RdpLiveFeed['keyframe']>[0]);
      else if (msg.type === 'record' && rdp && typeof msg.data === 'string') rdp.record(msg.data);
      else if (msg.type === 'ready' || msg.type === 'resize') {
        // The owner's terminal size governs: the joiner's terminal follows it.
        const term = msg.screen ? null : terminal();
        if (term && msg.cols && msg.rows) term.resize(msg.cols, msg.rows);
        if (msg.type === 'ready') {
          setPhase({ kind: 'joined', owner: msg.owner ?? 'the owner' });
          if (term) term.focus();
          else screenRef.current?.focus();
        }
      } else if (msg.type === 'end' && !settled) {
        settled = true;
        setPhase({ kind: 'ended', reason: msg.reason ?? 'the session ended' });
      } else if (msg.type === 'error') {
        settled = true;
        setPhase({ kind: 'refused', message: msg.message ?? 'you cannot join this session' });
      }
    };
    ws.onclose = () => {
      if (termRef) termRef.options.disableStdin = true;
      rdp?.close();
      // Leaving (or a refusal) already said why the connection ends: keep that.
      if (!settled) setPhase((p) => (p.kind === 'refused' || p.kind === 'ended' ? p : { kind: 'ended', reason: 'the connection closed' }));
    };
    return () => {
      wsRef.current = null;
      ws.close(1000, 'left');
      termRef?.dispose();
      rdp?.close();
    };
  }, [id, joinId]);

  // RDP: keys, pointer and wheel on the screen, batched per animation frame.
  const screenRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = screenRef.current;
    if (!el || !feed) return;
    let queue: Record<string, unknown>[] = [];
    let raf = 0;
    const flush = () => {
      raf = 0;
      const ws = wsRef.current;
      if (queue.length && ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'input', data: JSON.stringify(queue.slice(0, 64)) }));
      queue = queue.slice(64);
      if (queue.length) raf = requestAnimationFrame(flush);
    };
    const push = (e: Record<string, unknown>) => {
      // Consecutive moves: only the last one matters.
      if (e.t === 'move' && queue.length && queue[queue.length - 1]!.t === 'move') queue[queue.length - 1] = e;
      else queue.push(e);
      raf ||= requestAnimationFrame(flush);
    };
    const at = (ev: MouseEvent) => {
      const c = el.querySelector('canvas');
      if (!c) return null;
      const r = c.getBoundingClientRect();
      const x = Math.round(((ev.clientX - r.left) * feed.screen.width) / r.width);
      const y = Math.round(((ev.clientY - r.top) * feed.screen.height) / r.height);
      return x < 0 || y < 0 || x >= feed.screen.width || y >= feed.screen.height ? null : { x, y };
    };
    const key = (up: boolean) => (ev: KeyboardEvent) => {
      const k = scancodeOf(ev.code);
      if (!k) return;
      ev.preventDefault();
      push({ t: 'key', sc: k.sc, ext: k.ext, up });
    };
    const onMove = (ev: MouseEvent) => {
      const p = at(ev);
      if (p) push({ t: 'move', ...p });
    };
    const button = (down: boolean) => (ev: MouseEvent) => {
      const p = at(ev);
      if (!p || ev.button > 2) return;
      if (down) el.focus();
      ev.preventDefault();
      push({ t: 'button', b: ev.button === 0 ? 1 : ev.button === 2 ? 2 : 3, down, ...p });
    };
    const onWheel = (ev: WheelEvent) => {
      const p = at(ev);
      if (!p || (!ev.deltaY && !ev.deltaX)) return;
      ev.preventDefault();
      const horizontal = Math.abs(ev.deltaX) > Math.abs(ev.deltaY);
      const d = horizontal ? ev.deltaX : -ev.deltaY;
      push({ t: 'wheel', d: d > 0 ? 1 : -1, h: horizontal, ...p });
    };
    const noMenu = (ev: MouseEvent) => ev.preventDefault();
    const down = key(false);
    const up = key(true);
    const bdown = button(true);
    const bup = button(false);
    el.addEventListener('keydown', down);
    el.addEventListener('keyup', up);
    el.addEventListener('mousemove', onMove);
    el.addEventListener('mousedown', bdown);
    el.addEventListener('mouseup', bup);
    el.addEventListener('wheel', onWheel, { passive: false });
    el.addEventListener('contextmenu', noMenu);
    el.focus();
    return () => {
      if (raf) cancelAnimationFrame(raf);
      el.removeEventListener('keydown', down);
      el.removeEventListener('keyup', up);
      el.removeEventListener('mousemove', onMove);
      el.removeEventListener('mousedown', bdown);
      el.removeEventListener('mouseup', bup);
      el.removeEventListener('wheel', onWheel);
      el.removeEventListener('contextmenu', noMenu);
    };
  }, [feed]);

  const leave = () => {
    wsRef.current?.close(1000, 'left');
    setPhase({ kind: 'ended', reason: 'you left the session' });
  };

  const status =
    phase.kind === 'joined' ? { tone: 'green', text: `Joined ${phase.owner}'s session` } : phase.kind === 'pending' ? { tone: 'amber', text: 'Waiting for the owner to accept…' } : phase.kind === 'connecting' ? { tone: 'amber', text: 'Connecting…' } : { tone: 'red', text: phase.kind === 'refused' ? 'Refused' : 'Left' };
  return (
    <div className="term-page">
      <header className="term-bar">
        <Link to="/" className="term-back" title="My access" aria-label="My access">
          <Icon name="arrowLeft" />
          <span>My access</span>
        </Link>
        <div className="term-title">
          <strong>Shared session</strong>
          <span className="term-sub">what you type is recorded under your name</span>
        </div>
        <span className={`status-pill status-${status.tone}`} role="status">
          <span className="dot" />
          {status.text}
        </span>
        <div className="term-actions">
          {(phase.kind === 'joined' || phase.kind === 'pending') && (
            <Button small variant="ghost" icon="x" onClick={leave}>
              Leave
            </Button>
          )}
        </div>
      </header>
      <div className="term-stage">
        {phase.kind === 'refused' && <Alert kind="error">{phase.message}</Alert>}
        {phase.kind === 'ended' && (
          <div className="term-banner term-banner-info" role="status">
            <Icon name="info" />
            <span>
              No longer in the session: <strong>{phase.reason}</strong>
            </span>
          </div>
        )}
        <div className="term-box" ref={box} hidden={!!feed} />
        {feed && (
          <div className="join-screen" ref={screenRef} tabIndex={0} aria-label="Shared remote desktop: click to type into it">
            <RdpLive feed={feed} />
          </div>
        )}
      </div>
    </div>
  );
}
