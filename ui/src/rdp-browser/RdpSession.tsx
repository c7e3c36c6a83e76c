// The browser RDP session page, /rdp/session?ticket=…[&consent=1][&clipboard=0]
// [&GUAC_WIDTH=…&GUAC_HEIGHT=…&GUAC_DPI=…]. It needs no Gatehouse sign-in: the ticket is
// the person's authentication, as at the RDP door (an external portal with a logon ticket
// lands here too). The ticket is taken out of the address bar at once. Without consent=1
// the person is told the session may be recorded and connects by agreeing. The desktop is
// sized from the window (or the GUAC_* parameters); it follows the window through the
// Display Control channel where the target has it, else it is scaled to fit.
import { useEffect, useRef, useState } from 'react';
import { desktopScalePercent, windowDesktop } from './display';
import type { RdpPageParams } from './params';
import { startRdpClient, clientErrorText, type RdpClient } from './client';
import { touchToMouse } from './touch';
import { JoinRequests } from '../components/JoinRequests';
import { useInvite } from '../components/invite';
import { useOwnSession } from './own-session';
import './rdp-session.css';

type Phase = { kind: 'consent' } | { kind: 'connecting' } | { kind: 'connected' } | { kind: 'ended'; reason: string } | { kind: 'error'; message: string };

export default function RdpSession({ params: initial }: { params: RdpPageParams }) {
  const [phase, setPhase] = useState<Phase>(initial.ticket ? (initial.consent ? { kind: 'connecting' } : { kind: 'consent' }) : { kind: 'error', message: 'This page needs a launch ticket: open Remote Desktop from Gatehouse.' });
  const [consent, setConsent] = useState(initial.consent);
  const host = useRef<HTMLDivElement>(null);
  const client = useRef<RdpClient | null>(null);
  const started = useRef(false);
  // When the page began to connect: its session is the person's newest browser RDP session since then.
  const [connectingSince, setConnectingSince] = useState(0);

  useEffect(() => {
    document.title = 'Remote Desktop · Gatehouse';
  }, []);

  useEffect(() => {
    if (phase.kind !== 'connecting' || started.current || !host.current) return;
    started.current = true;
    setConnectingSince(Date.now());
    const { width, height } = initial.display;
    startRdpClient({ host: host.current, ticket: initial.ticket, consent, width, height, clipboard: initial.clipboard, onWarning: (w) => console.info(`remote desktop: ${w}`) })
      .then((c) => {
        client.current = c;
        setPhase({ kind: 'connected' });
        void c.ended.then((reason) => setPhase({ kind: 'ended', reason }));
      })
      .catch((e: unknown) => setPhase({ kind: 'error', message: clientErrorText(e) }));
  }, [phase.kind, consent]);

  // Touch, and the desktop following the window (unless the size was fixed by GUAC_*).
  useEffect(() => {
    const c = client.current;
    if (phase.kind !== 'connected' || !c) return;
    const canvas = c.element.shadowRoot?.querySelector('canvas') ?? c.element;
    const stopTouch = touchToMouse(canvas as HTMLElement);
    let timer: ReturnType<typeof setTimeout> | null = null;
    const onResize = () => {
      if (initial.display.fromQuery) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        const d = windowDesktop(window);
        // The web client's third argument is the desktop scale factor in percent (Display
        // Control accepts 100..500; anything else makes the client fail the whole session).
        c.ui.resize(d.width, d.height, desktopScalePercent(d.dpi));
      }, 400);
    };
    window.addEventListener('resize', onResize);
    const h = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', h);
    return () => {
      stopTouch();
      if (timer) clearTimeout(timer);
      window.removeEventListener('resize', onResize);
      window.removeEventListener('beforeunload', h);
    };
  }, [phase.kind]);

  useEffect(() => () => client.current?.ui.shutdown(), []);

  const connected = phase.kind === 'connected';
  // Shared control: the owner invites someone (needs a Gatehouse sign-in in this browser; the launcher must allow invitations).
  const own = useOwnSession(connected, connectingSince);
  const invite = useInvite(own?.id ?? null, 'the remote desktop', () => client.current?.element.shadowRoot?.querySelector('canvas')?.focus());
  return (
    <div className="rdpw-page" data-phase={phase.kind}>
      <div className="rdpw-bar">
        <span className="rdpw-title">Remote Desktop</span>
        <span className={`rdpw-status rdpw-${phase.kind}`}>{phase.kind === 'connected' ? 'Connected' : phase.kind === 'connecting' ? 'Connecting…' : phase.kind === 'ended' ? 'Ended' : phase.kind === 'error' ? 'Failed' : 'Waiting'}</span>
        <span className="rdpw-spacer" />
        <button type="button" className="rdpw-btn" disabled={!connected} onClick={() => client.current?.ui.ctrlAltDel()} title="Send Ctrl+Alt+Del to the remote computer">
          Ctrl+Alt+Del
        </button>
        <button type="button" className="rdpw-btn" disabled={!connected} onClick={() => client.current?.ui.metaKey()} title="Send the Windows key">
          Win
        </button>
        {connected && own && (
          <button type="button" className="rdpw-btn" onClick={() => void invite()} title={`Invite someone to join this session on ${own.secret.name}`}>
            Invite
          </button>
        )}
        <button type="button" className="rdpw-btn" disabled={!connected} onClick={() => client.current?.ui.shutdown()} title="End the session">
          Disconnect
        </button>
      </div>
      {/* Shared control: someone asks to join this session (the owner's prompt; needs a Gatehouse sign-in in this browser). */}
      {connected && <JoinRequests className="rdpw-joins" buttonClass="rdpw-btn" />}
      <div className="rdpw-screen" ref={host} />
      {phase.kind === 'consent' && (
        <div className="rdpw-overlay">
          <div className="rdpw-card" role="dialog" aria-label="Recording notice">
            <h2>This session may be recorded</h2>
            <p>Gatehouse records what happens on the remote desktop when the launcher says so: the screen, your input and what you type.</p>
            <div className="rdpw-actions">
              <button
                type="button"
                className="rdpw-btn rdpw-primary"
                onClick={() => {
                  setConsent(true);
                  setPhase({ kind: 'connecting' });
                }}
              >
                Agree and connect
              </button>
              <button type="button" className="rdpw-btn" onClick={() => setPhase({ kind: 'ended', reason: 'You did not agree to the recording: no session.' })}>
                Cancel
              </button>
            </div>
          </div>
        </div>
      )}
      {(phase.kind === 'ended' || phase.kind === 'error') && (
        <div className="rdpw-overlay">
          <div className="rdpw-card" role="alert">
            <h2>{phase.kind === 'ended' ? 'The session has ended' : 'The session could not be opened'}</h2>
            <p className="rdpw-reason">{phase.kind === 'ended' ? phase.reason : phase.message}</p>
            <a className="rdpw-btn" href="/">
              Back to Gatehouse
            </a>
          </div>
        </div>
      )}
    </div>
  );
}
