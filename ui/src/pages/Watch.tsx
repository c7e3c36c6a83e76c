// Watching a live session: a read-only terminal fed by Server-Sent Events (the asciicast
// header, then every event as it happens), with terminate. RDP sessions (header format
// "rdp") show their screen on a canvas instead (ui/src/rdp).
import type { Terminal as XTerm } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import { api, apiUrl } from '../api';
import { Icon } from '../components/Icon';
import { Button, useConfirm, useToast } from '../components/ui';
import { duration } from '../format';
import { useNow, useTitle } from '../hooks';
import { createLiveFeed, RdpLive } from '../rdp/RdpLive';
import type { LiveHeader, RdpLiveFeed } from '../rdp/stream';
import { Link } from '../router';
import type { Session } from '../api-types';
import { createTerminal } from '../xterm';
import './terminal.css';

type State = 'connecting' | 'watching' | 'ended' | 'lost' | 'not-live';

export default function Watch({ id }: { id: string }) {
  const toast = useToast();
  const confirm = useConfirm();
  const [session, setSession] = useState<Session | null>(null);
  const [state, setState] = useState<State>('connecting');
  const [attempt, setAttempt] = useState(0);
  const [size, setSize] = useState<{ cols: number; rows: number } | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const term = useRef<XTerm | null>(null);
  const [rdp, setRdp] = useState<RdpLiveFeed | null>(null);
  const now = useNow(1000);
  useTitle(session ? `Watching ${session.user.username} on ${session.secret.name}` : 'Live session');

  useEffect(() => {
    api
      .get<Session>(`/sessions/${encodeURIComponent(id)}`)
      .then((s) => {
        setSession(s);
        if (s.status !== 'live') setState('not-live');
      })
      .catch(() => undefined);
  }, [id, attempt]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    el.innerHTML = '';
    const { term: t } = createTerminal(el, { disableStdin: true, cursorBlink: false, scrollback: 10000 });
    term.current = t;
    setState('connecting');
    const es = new EventSource(apiUrl(`/sessions/${encodeURIComponent(id)}/live`), { withCredentials: true });
    let finished = false;
    let feed: RdpLiveFeed | null = null;
    setRdp(null);
    const resize = (cols: number, rows: number) => {
      if (cols > 0 && rows > 0 && cols <= 1000 && rows <= 500) {
        t.resize(cols, rows);
        setSize({ cols, rows });
      }
    };
    es.addEventListener('header', (ev) => {
      try {
        const h = JSON.parse((ev as MessageEvent).data) as { width?: number; height?: number; format?: string };
        if (h.format === 'rdp') {
          feed = createLiveFeed(h as LiveHeader);
          setRdp(feed);
        } else if (h.width && h.height) resize(h.width, h.height);
      } catch {
        /* ignore */
      }
      setState('watching');
    });
    es.addEventListener('keyframe', (ev) => {
      try {
        void feed?.keyframe(JSON.parse((ev as MessageEvent).data));
      } catch {
        /* ignore */
      }
    });
    es.onmessage = (ev) => {
      if (feed) return feed.record(ev.data);
      try {
        const [, type, data] = JSON.parse(ev.data) as [number, string, string];
        if (type === 'o') t.write(data);
        else if (type === 'r') {
          const m = /^(\d+)x(\d+)$/.exec(data);
          if (m) resize(Number(m[1]), Number(m[2]));
        }
      } catch {
        /* not an event */
      }
    };
    es.addEventListener('end', () => {
      finished = true;
      es.close();
      setState('ended');
      // The end reason is stored a moment after the stream closes.
      setTimeout(() => {
        api
          .get<Session>(`/sessions/${encodeURIComponent(id)}`)
          .then(setSession)
          .catch(() => undefined);
      }, 600);
    });
    es.onerror = () => {
      if (finished) return;
      // Do not let EventSource reconnect silently: the stream has no backlog, so a gap would go unnoticed.
      es.close();
      api
        .get<Session>(`/sessions/${encodeURIComponent(id)}`)
        .then((s) => {
          setSession(s);
          setState(s.status === 'live' ? 'lost' : 'ended');
        })
        .catch(() => setState('lost'));
    };
    return () => {
      finished = true;
      es.close();
      feed?.close();
      t.dispose();
      term.current = null;
    };
  }, [id, attempt]);

  const terminate = async () => {
    if (!session) return;
    const r = await confirm({
      title: 'Terminate this session?',
      body: (
        <>
          {session.user.username} is disconnected from {session.secret.name} at once and sees your reason.
        </>
      ),
      input: { label: 'Reason', placeholder: 'e.g. maintenance window closed', required: true },
      confirmLabel: 'Terminate',
      danger: true,
      action: (reason) => api.post(`/sessions/${encodeURIComponent(id)}/terminate`, { reason }),
    });
    if (r !== null) toast('Session terminated');
  };

  const live = state === 'watching' || state === 'connecting';
  return (
    <div className="term-page">
      <header className="term-bar">
        <Link to="/sessions/live" className="term-back" aria-label="Live sessions">
          <Icon name="arrowLeft" />
          <span>Live sessions</span>
        </Link>
        <div className="term-title">
          <strong>{session ? `${session.user.username} → ${session.secret.name}` : 'Live session'}</strong>
          <span className="term-sub">
            {session && `${session.protocol.toUpperCase()} · ${session.target.username ? session.target.username + '@' : ''}${session.target.host}`}
            {session && session.status === 'live' && ` · ${duration(now - Date.parse(session.startedAt))}`}
            {size && ` · ${size.cols}×${size.rows}`}
          </span>
        </div>
        <span className={`status-pill status-${state === 'watching' ? 'green' : state === 'lost' ? 'red' : state === 'connecting' ? 'amber' : 'neutral'}`}>
          <span className="dot" />
          {state === 'watching' ? 'Live' : state === 'connecting' ? 'Connecting…' : state === 'lost' ? 'Connection lost' : 'Ended'}
        </span>
        <div className="term-actions">
          {live && session?.status === 'live' && (
            <Button small variant="danger" icon="stop" onClick={() => void terminate()} aria-label="Terminate">
              Terminate
            </Button>
          )}
        </div>
      </header>
      <div className="term-stage">
        {live && (
          <div className="term-banner term-banner-watch" role="status">
            <Icon name="eye" />
            <span>
              <strong>Watching live — read only.</strong> Nothing you type reaches the session. Watching is recorded in the audit trail.
            </span>
          </div>
        )}
        {state === 'ended' && (
          <div className="term-banner term-banner-info" role="status">
            <Icon name="info" />
            <span>
              <strong>Session ended.</strong>
              {session?.endReason ? ` ${session.endReason}` : ''}
            </span>
            {session?.recording.available && <ReplayLink id={id} />}
          </div>
        )}
        {state === 'not-live' && (
          <div className="term-banner term-banner-info" role="status">
            <Icon name="info" />
            <span>This session is not live any more.</span>
            <ReplayLink id={id} />
          </div>
        )}
        {state === 'lost' && (
          <div className="term-banner term-banner-error" role="alert">
            <Icon name="alert" />
            <span>
              <strong>Connection lost.</strong> The live view stopped; the session may still be running.
            </span>
            <Button small icon="refresh" onClick={() => setAttempt((a) => a + 1)}>
              Watch again
            </Button>
          </div>
        )}
        {rdp && <RdpLive feed={rdp} />}
        <div className="term-box term-box-fixed" ref={box} hidden={!!rdp} />
      </div>
    </div>
  );
}

/** The way from a session that has ended to its recording. */
function ReplayLink({ id }: { id: string }) {
  return (
    <Link className="btn btn-sm btn-secondary" to={`/recordings/${encodeURIComponent(id)}`}>
      <Icon name="film" />
      <span>Replay recording</span>
    </Link>
  );
}
