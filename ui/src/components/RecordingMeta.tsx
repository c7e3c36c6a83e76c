// What the terminal and RDP players show around the picture: the page header (who, what,
// when, where, back to the list or the search) and the session's facts under the player.
import type { ReactNode } from 'react';
import { bytes, dateTime, duration, PROTOCOL_LABELS } from '../format';
import { Link } from '../router';
import type { Session } from '../api-types';
import { Icon } from './Icon';
import { Badge, PageHeader } from './ui';

export function RecordingPageHeader({ session: s, q, actions }: { session: Session | undefined; q: string; actions: ReactNode }) {
  return (
    <PageHeader
      back={
        <Link to={q ? `/recordings?q=${encodeURIComponent(q)}` : '/recordings'}>
          <Icon name="arrowLeft" size={14} /> {q ? 'Search results' : 'Recordings'}
        </Link>
      }
      title={s ? `${s.user.username} → ${s.secret.name}` : 'Recording'}
      subtitle={
        s && (
          <>
            {dateTime(s.startedAt)} · {s.endedAt ? duration(Date.parse(s.endedAt) - Date.parse(s.startedAt)) : 'live'} · <span className="mono">{s.target.username ? `${s.target.username}@` : ''}{s.target.host}:{s.target.port}</span> · <Badge tone="blue">{PROTOCOL_LABELS[s.protocol] ?? s.protocol}</Badge>
          </>
        )
      }
      actions={actions}
    />
  );
}

export function SessionFacts({ session: s }: { session: Session }) {
  return (
    <dl className="facts facts-inline small">
      <dt>Ended because</dt>
      <dd>{s.endReason ?? '—'}</dd>
      <dt>From</dt>
      <dd className="mono">
        {s.clientIp ?? '—'} via {s.door}
      </dd>
      <dt>Traffic</dt>
      <dd>
        ↑ {bytes(s.bytesIn)} · ↓ {bytes(s.bytesOut)}
      </dd>
      {s.recording.sha256 && (
        <>
          <dt>SHA-256</dt>
          <dd className="mono break" title="Sealed in the audit trail (recording.seal)">
            {s.recording.sha256}
          </dd>
        </>
      )}
    </dl>
  );
}
