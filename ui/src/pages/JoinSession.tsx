// Shared control, the joiner's side: a terminal on someone else's live session, opened from a
// join request (waits until the owner accepts) or an invitation. Output comes down the
// WebSocket like the person's own terminal; what is typed here is recorded under your name.
import { useEffect, useRef, useState } from 'react';
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

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const { term } = createTerminal(el);
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/api/v1/sessions/${encodeURIComponent(id)}/joins/${encodeURIComponent(joinId)}/terminal`);
    ws.binaryType = 'arraybuffer';
    wsRef.current = ws;
    let settled = false;
    term.onData((data) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'input', data })));
    ws.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) return term.write(new Uint8Array(ev.data));
      const msg = JSON.parse(String(ev.data)) as { type?: string; owner?: string; cols?: number; rows?: number; reason?: string; message?: string };
      if (msg.type === 'pending') setPhase({ kind: 'pending' });
      else if (msg.type === 'ready' || msg.type === 'resize') {
        // The owner's terminal size governs: the joiner's terminal follows it.
        if (msg.cols && msg.rows) term.resize(msg.cols, msg.rows);
        if (msg.type === 'ready') {
          setPhase({ kind: 'joined', owner: msg.owner ?? 'the owner' });
          term.focus();
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
      term.options.disableStdin = true;
      if (!settled) setPhase((p) => (p.kind === 'refused' ? p : { kind: 'ended', reason: 'the connection closed' }));
    };
    return () => {
      wsRef.current = null;
      ws.close(1000, 'left');
      term.dispose();
    };
  }, [id, joinId]);

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
        <div className="term-box" ref={box} />
      </div>
    </div>
  );
}
