// The browser terminal: launch a ticket, ask for consent to recording when the launcher
// records, then a WebSocket carries keystrokes and resizes up and terminal output down.
import type { Terminal as XTerm } from '@xterm/xterm';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorText } from '../api';
import { Icon } from '../components/Icon';
import { Alert, Button, copyText, Loading, useConfirm, useToast } from '../components/ui';
import { useTitle } from '../hooks';
import { launch } from '../launch';
import { Link, navigate } from '../router';
import type { LaunchResponse, Secret } from '../api-types';
import { autoFit, createTerminal } from '../xterm';
import './terminal.css';
import { useStepUp } from '../components/StepUpDialog';
import { useInvite } from '../components/invite';

type Phase =
  | { kind: 'launching' }
  | { kind: 'launch-failed'; message: string }
  | { kind: 'consent'; r: LaunchResponse }
  | { kind: 'declining'; r: LaunchResponse }
  | { kind: 'declined' }
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'ended'; reason: string }
  | { kind: 'lost' }
  | { kind: 'error'; message: string };

const wsUrl = (ticket: string, cols: number, rows: number) => {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const q = new URLSearchParams({ ticket, consent: '1', cols: String(cols), rows: String(rows) });
  return `${proto}://${location.host}/api/v1/terminal?${q}`;
};

export default function Terminal({ secretId, launcher }: { secretId: string; launcher: string }) {
  const toast = useToast();
  const confirm = useConfirm();
  const [secret, setSecret] = useState<Secret | null>(null);
  const [phase, setPhase] = useState<Phase>({ kind: 'launching' });
  const [attempt, setAttempt] = useState(0);
  const [launcherName, setLauncherName] = useState<string>(launcher);
  const box = useRef<HTMLDivElement>(null);
  const termRef = useRef<XTerm | null>(null);
  const wsRef = useRef<WebSocket | null>(null);
  // Shared control: this session's id, and the join requests waiting for an answer.
  const [sessionId, setSessionId] = useState<string | null>(null);
  const [requests, setRequests] = useState<{ requestId: string; user: string }[]>([]);
  const phaseRef = useRef(phase);
  phaseRef.current = phase;
  useTitle(secret ? `${secret.name} · ${launcherName}` : 'Terminal');

  useEffect(() => {
    api
      .get<Secret>(`/secrets/${encodeURIComponent(secretId)}`)
      .then(setSecret)
      .catch(() => undefined);
  }, [secretId]);

  const stepUp = useStepUp();
  // One launch per attempt (guards React's development double-run of effects).
  const launched = useRef(-1);
  useEffect(() => {
    if (launched.current === attempt) return;
    launched.current = attempt;
    setPhase({ kind: 'launching' });
    stepUp
      // The access level chosen on My access travels in the URL (?level=).
      .run((totp) => launch(secretId, launcher, totp, undefined, new URLSearchParams(window.location.search).get('level') ?? undefined))
      .then((r) => {
        setLauncherName(r.launcher.name);
        if (r.consent?.required) setPhase({ kind: 'consent', r });
        else connect(r);
      })
      .catch((e) => setPhase({ kind: 'launch-failed', message: errorText(e) }));
  }, [attempt, secretId, launcher]);

  const teardown = useCallback(() => {
    const ws = wsRef.current;
    wsRef.current = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'closed by user');
    termRef.current?.dispose();
    termRef.current = null;
  }, []);
  useEffect(() => teardown, [teardown]);

  // Ask before closing the tab on a live session.
  useEffect(() => {
    if (phase.kind !== 'connected') return;
    const h = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', h);
    return () => window.removeEventListener('beforeunload', h);
  }, [phase.kind]);

  function connect(r: LaunchResponse) {
    teardown();
    setPhase({ kind: 'connecting' });
    // The terminal container is rendered for these phases; wait one frame for layout.
    requestAnimationFrame(() => {
      const el = box.current;
      if (!el) return;
      el.innerHTML = '';
      const { term, fit } = createTerminal(el);
      termRef.current = term;
      const stopFit = autoFit(el, fit);
      const ws = new WebSocket(wsUrl(r.ticket, term.cols, term.rows));
      ws.binaryType = 'arraybuffer';
      wsRef.current = ws;
      let settled = false;
      const send = (msg: unknown) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(msg));
      term.onData((data) => send({ type: 'input', data }));
      term.onBinary((data) => send({ type: 'input', data }));
      term.onResize(({ cols, rows }) => send({ type: 'resize', cols, rows }));
      term.attachCustomKeyEventHandler((e) => {
        if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
        if (e.code === 'KeyC') {
          e.preventDefault();
          const sel = term.getSelection();
          if (sel) void copyText(sel).then((ok) => ok && toast('Copied'));
          return false;
        }
        // Ctrl+Shift+V: let the browser paste (xterm receives the paste event).
        if (e.code === 'KeyV') return false;
        return true;
      });
      ws.onopen = () => {
        try {
          fit.fit();
        } catch {
          /* ignore */
        }
        send({ type: 'resize', cols: term.cols, rows: term.rows });
      };
      ws.onmessage = (ev) => {
        if (ev.data instanceof ArrayBuffer) {
          term.write(new Uint8Array(ev.data));
          return;
        }
        let msg: { type?: string; reason?: string; message?: string; sessionId?: string; event?: string; requestId?: string; user?: string; text?: string };
        try {
          msg = JSON.parse(String(ev.data));
        } catch {
          term.write(String(ev.data));
          return;
        }
        if (msg.type === 'ready') {
          setPhase({ kind: 'connected' });
          setSessionId(msg.sessionId ?? null);
          term.focus();
        } else if (msg.type === 'join') {
          const { requestId = '', user = '' } = msg;
          if (msg.event === 'request') setRequests((r) => [...r.filter((x) => x.requestId !== requestId), { requestId, user }]);
          else {
            setRequests((r) => r.filter((x) => x.requestId !== requestId));
            if (msg.text) toast(msg.text, 'info');
          }
        } else if (msg.type === 'end') {
          // An error already explains the end; keep it on screen.
          if (!settled) setPhase({ kind: 'ended', reason: msg.reason || 'the session ended' });
          settled = true;
        } else if (msg.type === 'error') {
          settled = true;
          setPhase({ kind: 'error', message: msg.message || 'the session could not be opened' });
        }
      };
      ws.onclose = () => {
        stopFit();
        term.options.cursorBlink = false;
        term.options.disableStdin = true;
        term.write('\x1b[?25l');
        if (wsRef.current !== ws) return;
        wsRef.current = null;
        if (!settled) {
          setPhase({ kind: 'lost' });
          // An expired sign-in also closes the socket: asking the API finds out and returns to sign-in.
          api.get('/me').catch(() => undefined);
        }
      };
    });
  }

  const answerJoin = (requestId: string, accept: boolean) => {
    const ws = wsRef.current;
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'join-answer', requestId, accept }));
    setRequests((r) => r.filter((x) => x.requestId !== requestId));
    termRef.current?.focus();
  };
  const invite = useInvite(sessionId, 'the terminal', () => termRef.current?.focus());

  const decline = async (r: LaunchResponse) => {
    setPhase({ kind: 'declining', r });
    try {
      await api.post('/tickets/decline', { ticket: r.ticket });
    } catch {
      /* the ticket expires on its own; the person declined either way */
    }
    setPhase({ kind: 'declined' });
  };

  const disconnect = () => {
    const ws = wsRef.current;
    wsRef.current = null;
    ws?.close(1000, 'disconnected by user');
    if (termRef.current) {
      termRef.current.options.disableStdin = true;
      termRef.current.options.cursorBlink = false;
    }
    setPhase({ kind: 'ended', reason: 'you disconnected' });
  };

  const paste = async () => {
    try {
      const text = await navigator.clipboard.readText();
      if (text) termRef.current?.paste(text);
      termRef.current?.focus();
    } catch {
      toast('The browser did not allow reading the clipboard: press Ctrl+Shift+V (or Ctrl+V) in the terminal instead', 'info');
    }
  };
  const copy = async () => {
    const sel = termRef.current?.getSelection();
    if (!sel) return toast('Select text in the terminal first', 'info');
    if (await copyText(sel)) toast('Copied');
    termRef.current?.focus();
  };

  const again = () => {
    teardown();
    setAttempt((a) => a + 1);
  };

  const showTerminal = phase.kind === 'connecting' || phase.kind === 'connected' || phase.kind === 'ended' || phase.kind === 'lost' || phase.kind === 'error';
  const status =
    phase.kind === 'connected'
      ? { tone: 'green', text: 'Connected' }
      : phase.kind === 'connecting' || phase.kind === 'launching'
        ? { tone: 'amber', text: 'Connecting…' }
        : phase.kind === 'lost'
          ? { tone: 'red', text: 'Connection lost' }
          : phase.kind === 'error' || phase.kind === 'launch-failed'
            ? { tone: 'red', text: 'Failed' }
            : phase.kind === 'consent' || phase.kind === 'declining'
              ? { tone: 'amber', text: 'Waiting for consent' }
              : { tone: 'neutral', text: phase.kind === 'declined' ? 'Not started' : 'Ended' };

  return (
    <div className="term-page">
      {stepUp.dialog}
      <header className="term-bar">
        <Link
          to="/"
          className="term-back"
          title="My access"
          aria-label="My access"
          onClick={(e) => {
            if (phase.kind !== 'connected' && phase.kind !== 'connecting') return;
            e.preventDefault();
            void confirm({ title: 'Leave this session?', body: 'Leaving the page disconnects you from the target.', confirmLabel: 'Disconnect and leave', danger: true }).then((ok) => {
              if (ok === null) return termRef.current?.focus();
              disconnect();
              navigate('/');
            });
          }}
        >
          <Icon name="arrowLeft" />
          <span>My access</span>
        </Link>
        <div className="term-title">
          <strong>{secret?.name ?? 'Session'}</strong>
          <span className="term-sub">
            {launcherName}
            {secret?.machine ? ` · ${secret.username ? secret.username + '@' : ''}${secret.machine}` : ''}
          </span>
        </div>
        <span className={`status-pill status-${status.tone}`}>
          <span className="dot" />
          {status.text}
        </span>
        <div className="term-actions">
          {showTerminal && (
            <>
              <Button small variant="ghost" icon="copy" onClick={() => void copy()} title="Copy the selection (Ctrl+Shift+C)" aria-label="Copy">
                Copy
              </Button>
              <Button small variant="ghost" icon="clipboard" onClick={() => void paste()} title="Paste (Ctrl+Shift+V)" aria-label="Paste" disabled={phase.kind !== 'connected'}>
                Paste
              </Button>
            </>
          )}
          {phase.kind === 'connected' && sessionId && (
            <Button small variant="ghost" icon="user" onClick={() => void invite()} title="Invite someone to join this session">
              Invite
            </Button>
          )}
          {(phase.kind === 'connected' || phase.kind === 'connecting') && (
            <Button small variant="ghost" icon="x" onClick={disconnect} aria-label="Disconnect" title="Disconnect">
              Disconnect
            </Button>
          )}
        </div>
      </header>

      {phase.kind === 'launching' && (
        <div className="term-center">
          <Loading label="Preparing the session…" />
        </div>
      )}
      {phase.kind === 'launch-failed' && (
        <div className="term-center">
          <div className="term-card">
            <h2>The session could not start</h2>
            <Alert kind="error">{phase.message}</Alert>
            <div className="form-actions">
              <Button onClick={() => navigate('/')}>Back to My access</Button>
              <Button variant="primary" icon="refresh" onClick={again}>
                Try again
              </Button>
            </div>
          </div>
        </div>
      )}
      {(phase.kind === 'consent' || phase.kind === 'declining') && (
        <div className="term-center">
          <div className="term-card consent-card" role="dialog" aria-labelledby="consent-title">
            <div className="consent-icon">
              <Icon name="eye" size={24} />
            </div>
            <h2 id="consent-title">This session is recorded</h2>
            <p className="consent-text">{phase.r.consent?.text}</p>
            <div className="form-actions">
              <Button onClick={() => void decline(phase.r)} busy={phase.kind === 'declining'}>
                Decline
              </Button>
              <Button variant="primary" onClick={() => connect(phase.r)} disabled={phase.kind === 'declining'} autoFocus>
                I agree
              </Button>
            </div>
          </div>
        </div>
      )}
      {phase.kind === 'declined' && (
        <div className="term-center">
          <div className="term-card">
            <h2>Session not started</h2>
            <p>You declined the recording notice, so Gatehouse did not open the session. Nothing was recorded.</p>
            <div className="form-actions">
              <Button onClick={again}>Show the notice again</Button>
              <Button variant="primary" onClick={() => navigate('/')}>
                Back to My access
              </Button>
            </div>
          </div>
        </div>
      )}
      {showTerminal && (
        <div className="term-stage">
          {phase.kind === 'connected' &&
            requests.map((r) => (
              <div key={r.requestId} className="term-banner term-banner-info" role="alertdialog" aria-label={`${r.user} asks to join`}>
                <Icon name="info" />
                <span>
                  <strong>{r.user}</strong> asks to join this session: they would see it and could type.
                </span>
                <Button small onClick={() => answerJoin(r.requestId, false)}>
                  Decline
                </Button>
                <Button small variant="primary" onClick={() => answerJoin(r.requestId, true)}>
                  Accept
                </Button>
              </div>
            ))}
          {phase.kind === 'ended' && (
            <div className="term-banner term-banner-info" role="status">
              <Icon name="info" />
              <span>
                Session ended: <strong>{phase.reason}</strong>
              </span>
              <Button small onClick={again} icon="refresh">
                Start a new session
              </Button>
            </div>
          )}
          {phase.kind === 'lost' && (
            <div className="term-banner term-banner-error" role="alert">
              <Icon name="alert" />
              <span>
                <strong>Connection lost.</strong> The link to Gatehouse dropped and the session was interrupted.
              </span>
              <Button small onClick={again} icon="refresh">
                Reconnect
              </Button>
            </div>
          )}
          {phase.kind === 'error' && (
            <div className="term-banner term-banner-error" role="alert">
              <Icon name="alert" />
              <span>{errorText(new Error(phase.message))}</span>
              <Button small onClick={again} icon="refresh">
                Try again
              </Button>
            </div>
          )}
          {phase.kind === 'connecting' && (
            <div className="term-overlay" role="status">
              <span className="spinner" /> Connecting to {secret?.machine ?? 'the target'}…
            </div>
          )}
          <div className="term-box" ref={box} />
        </div>
      )}
    </div>
  );
}
