// Sessions running now, refreshed every few seconds; watch or terminate.
import { useMemo, useState } from 'react';
import { api, errorText } from '../api';
import { useMe } from '../auth';
import { CardTable } from '../components/CardTable';
import { ListShell } from '../components/ListShell';
import { Badge, Button, Empty, PageHeader, SearchBox, useConfirm, useToast } from '../components/ui';
import { bytes, dayOrTime, duration, PROTOCOL_LABELS } from '../format';
import { useApi, useNow, useTitle } from '../hooks';
import { Link, navigate } from '../router';
import type { Join, Page, Session } from '../api-types';

export function LiveSessions() {
  useTitle('Live sessions');
  const sessions = useApi<Page<Session>>('/sessions?status=live&limit=500', { pollMs: 4000 });
  const now = useNow(1000);
  const toast = useToast();
  const confirm = useConfirm();
  const [search, setSearch] = useState('');
  const me = useMe();

  const items = useMemo(() => {
    const all = sessions.data?.items ?? [];
    const w = search.trim().toLowerCase();
    if (!w) return all;
    return all.filter((s) => [s.user.username, s.secret.name, s.target.host, s.target.username, s.clientIp, s.protocol].join(' ').toLowerCase().includes(w));
  }, [sessions.data, search]);

  const terminate = async (s: Session) => {
    const r = await confirm({
      title: `Terminate ${s.user.username}'s session?`,
      body: (
        <>
          The session on <strong>{s.secret.name}</strong> ends at once; {s.user.username} sees your reason.
        </>
      ),
      input: { label: 'Reason', placeholder: 'e.g. unexpected change outside the maintenance window', required: true },
      confirmLabel: 'Terminate',
      danger: true,
      action: (reason) => api.post(`/sessions/${encodeURIComponent(s.id)}/terminate`, { reason }),
    });
    if (r !== null) {
      toast('Session terminated');
      sessions.reload();
    }
  };

  // Shared control: ask the owner; the join page waits for their answer.
  const askToJoin = async (s: Session) => {
    try {
      const j = await api.post<Join>(`/sessions/${encodeURIComponent(s.id)}/join-requests`);
      navigate(`/sessions/join/${encodeURIComponent(s.id)}/${encodeURIComponent(j.id)}`);
    } catch (e) {
      toast(errorText(e), 'error');
    }
  };

  return (
    <div className="page">
      <PageHeader
        title="Live sessions"
        subtitle="Everyone connected through Gatehouse right now. The list refreshes every few seconds."
        actions={
          <Button icon="refresh" onClick={sessions.reload} busy={sessions.loading && !!sessions.data}>
            Refresh
          </Button>
        }
      />
      <div className="toolbar">
        <SearchBox value={search} onChange={setSearch} placeholder="Filter by user, secret, target or address" />
        {sessions.data && <span className="muted toolbar-count">{sessions.data.total} live</span>}
      </div>
      <ListShell
        resource={sessions}
        isEmpty={items.length === 0}
        empty={
          search ? (
            <Empty icon="search" title="No matches">
              No live session matches “{search}”.
            </Empty>
          ) : (
            <Empty icon="activity" title="No live sessions">
              Nobody is connected through Gatehouse right now. New sessions appear here within a few seconds.
            </Empty>
          )
        }
      >
        <CardTable
          rows={items}
          rowKey={(s) => s.id}
          columns={[
            {
              label: 'User',
              cell: (s) => (
                <>
                  <div className="cell-title">{s.user.username}</div>
                  {s.clientIp && <div className="cell-sub mono">from {s.clientIp}</div>}
                </>
              ),
            },
            { label: 'Secret', cell: (s) => s.secret.name },
            {
              label: 'Target',
              className: 'mono',
              cell: (s) => (
                <>
                  {s.target.username ? `${s.target.username}@` : ''}
                  {s.target.host}:{s.target.port}
                </>
              ),
            },
            {
              label: 'Protocol',
              cell: (s) => (
                <>
                  <Badge tone="blue">{PROTOCOL_LABELS[s.protocol] ?? s.protocol}</Badge> <span className="muted small">via {s.door}</span>
                </>
              ),
            },
            { label: 'Started', className: 'nowrap', cell: (s) => dayOrTime(s.startedAt) },
            {
              label: 'Duration',
              className: 'nowrap',
              cell: (s) => (
                <>
                  <span className="live-dot" aria-hidden="true" /> {duration(now - Date.parse(s.startedAt))}
                </>
              ),
            },
            {
              label: 'Traffic',
              className: 'small nowrap',
              cell: (s) => (
                <>
                  ↑ {bytes(s.bytesIn)} · ↓ {bytes(s.bytesOut)}
                </>
              ),
            },
            {
              label: 'Actions',
              actions: true,
              hideHeader: true,
              cell: (s) => (
                <div className="btn-row">
                  <Link className="btn btn-sm btn-primary" to={`/sessions/live/${encodeURIComponent(s.id)}`}>
                    Watch
                  </Link>
                  {me.can('join_sessions') && s.user.id !== me.id && (
                    <Button small onClick={() => void askToJoin(s)}>
                      Ask to join
                    </Button>
                  )}
                  <Button small variant="danger" onClick={() => void terminate(s)}>
                    Terminate
                  </Button>
                </div>
              ),
            },
          ]}
        />
      </ListShell>
    </div>
  );
}
