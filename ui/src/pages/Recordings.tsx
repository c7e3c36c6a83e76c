// Past sessions with filters, and a search over what people typed in them.
import { useMemo, type ReactNode } from 'react';
import { CardTable } from '../components/CardTable';
import { ListShell } from '../components/ListShell';
import { Badge, Button, Empty, FilterInput, PageHeader, Pager, SearchBox } from '../components/ui';
import { clock, dateTime, duration, PROTOCOL_LABELS } from '../format';
import { useApi, useSearchQuery, useTitle } from '../hooks';
import { Link, navigate, setQuery, useLocation } from '../router';
import type { Page, SearchHit, Session } from '../api-types';
import { qs } from '../api';
import './recordings.css';

const LIMIT = 200;
const SEARCH_LIMIT = 50;

interface Filters {
  user: string;
  secret: string;
  target: string;
  from: string;
  to: string;
}

function applyFilters<T extends Session>(items: T[], f: Filters): T[] {
  const has = (v: string | null | undefined, w: string) => !w || (v ?? '').toLowerCase().includes(w.toLowerCase());
  const from = f.from ? Date.parse(f.from + 'T00:00:00') : null;
  const to = f.to ? Date.parse(f.to + 'T23:59:59.999') : null;
  return items.filter((s) => {
    const t = Date.parse(s.startedAt);
    return (
      has(s.user.username, f.user) &&
      has(s.secret.name, f.secret) &&
      has(`${s.target.username ?? ''}@${s.target.host}:${s.target.port}`, f.target) &&
      (from === null || t >= from) &&
      (to === null || t <= to)
    );
  });
}

export function Highlight({ text, word }: { text: string; word: string }) {
  if (!word) return <>{text}</>;
  const parts: ReactNode[] = [];
  const lower = text.toLowerCase();
  const w = word.toLowerCase();
  let i = 0;
  for (let j = lower.indexOf(w); j >= 0; j = lower.indexOf(w, i)) {
    parts.push(text.slice(i, j), <mark key={j}>{text.slice(j, j + w.length)}</mark>);
    i = j + w.length;
  }
  parts.push(text.slice(i));
  return <>{parts}</>;
}

export function Recordings() {
  useTitle('Recordings');
  const { query } = useLocation();
  const { search, setSearch, q } = useSearchQuery(350);
  const f: Filters = { user: query.get('user') ?? '', secret: query.get('secret') ?? '', target: query.get('target') ?? '', from: query.get('from') ?? '', to: query.get('to') ?? '' };
  const protocol = query.get('protocol') ?? '';
  const offset = Number(query.get('offset') ?? 0) || 0;

  const list = useApi<Page<Session>>(q ? null : `/sessions${qs({ status: 'ended', protocol, limit: LIMIT, offset })}`);
  const hits = useApi<Page<SearchHit>>(q ? `/recordings${qs({ q, limit: SEARCH_LIMIT, offset })}` : null);
  const filtered = !!(f.user || f.secret || f.target || f.from || f.to);
  const sessions = useMemo(() => applyFilters(list.data?.items ?? [], f), [list.data, f.user, f.secret, f.target, f.from, f.to]);
  const found = useMemo(() => applyFilters(hits.data?.items ?? [], f).filter((h) => !protocol || h.protocol === protocol), [hits.data, f.user, f.secret, f.target, f.from, f.to, protocol]);

  const setF = (k: keyof Filters | 'protocol', v: string) => setQuery({ [k]: v || null, ...(k === 'protocol' ? { offset: null } : {}) });

  return (
    <div className="page">
      <PageHeader title="Recordings" subtitle="Replay past sessions and search what was typed in them." />
      <div className="toolbar">
        <SearchBox value={search} onChange={setSearch} placeholder="Search typed commands, e.g. sudo or rm -rf" label="Search typed text in recordings" />
      </div>
      <div className="filters">
        <FilterInput label="User" value={f.user} onChange={(e) => setF('user', e.target.value)} placeholder="any" />
        <FilterInput label="Secret" value={f.secret} onChange={(e) => setF('secret', e.target.value)} placeholder="any" />
        <FilterInput label="Target" value={f.target} onChange={(e) => setF('target', e.target.value)} placeholder="host or user@host" />
        <label>
          <span>Protocol</span>
          <select className="input" value={protocol} onChange={(e) => setF('protocol', e.target.value)}>
            <option value="">any</option>
            <option value="ssh">SSH</option>
            <option value="telnet">Telnet</option>
            <option value="rdp">RDP</option>
          </select>
        </label>
        <FilterInput label="From" type="date" value={f.from} onChange={(e) => setF('from', e.target.value)} />
        <FilterInput label="To" type="date" value={f.to} onChange={(e) => setF('to', e.target.value)} />
        {(filtered || protocol) && (
          <Button variant="ghost" small onClick={() => setQuery({ user: null, secret: null, target: null, from: null, to: null, protocol: null, offset: null })}>
            Clear filters
          </Button>
        )}
      </div>

      {q ? (
        <ListShell
          resource={hits}
          loadingLabel="Searching…"
          isEmpty={found.length === 0}
          empty={
            <Empty icon="search" title="No matches">
              Nobody typed “{q}” in a recorded session{filtered || protocol ? ' that matches the filters' : ''}. Only sessions whose launcher records keystrokes can be searched.
            </Empty>
          }
        >
          <p className="muted small">
            {filtered || protocol ? `${found.length} of ${hits.data?.items.length} sessions on this page match the filters. ` : ''}
            Click a line to play the recording from there.
          </p>
          <div className="hits">
            {found.map((h) => (
              <div className="hit card" key={h.id}>
                <div className="hit-head">
                  <Link to={`/recordings/${encodeURIComponent(h.id)}?q=${encodeURIComponent(q)}`} className="cell-title">
                    {h.user.username} → {h.secret.name}
                  </Link>
                  <span className="muted small">
                    {dateTime(h.startedAt)} · {h.target.host} · <Badge tone="blue">{PROTOCOL_LABELS[h.protocol] ?? h.protocol}</Badge>
                  </span>
                </div>
                <ul className="hit-lines">
                  {h.matches.map((m, i) => (
                    <li key={i}>
                      <Link to={`/recordings/${encodeURIComponent(h.id)}?q=${encodeURIComponent(q)}&at=${m.at}`} className="hit-line">
                        <span className="hit-time mono">{clock(m.at)}</span>
                        {m.kind !== 'command' && <Badge>{m.kind}</Badge>}
                        <code>
                          <Highlight text={m.text} word={q} />
                        </code>
                      </Link>
                    </li>
                  ))}
                </ul>
              </div>
            ))}
          </div>
          {hits.data && <Pager offset={offset} limit={SEARCH_LIMIT} total={hits.data.total} onChange={(o) => setQuery({ offset: o || null })} noun="session" />}
        </ListShell>
      ) : (
        <ListShell
          resource={list}
          isEmpty={(!!list.data && list.data.total === 0) || sessions.length === 0}
          empty={
            list.data && list.data.total === 0 ? (
              <Empty icon="film" title="No recordings yet">
                Sessions appear here when they end.
              </Empty>
            ) : (
              <Empty icon="search" title="No session matches the filters" action={<Button onClick={() => setQuery({ user: null, secret: null, target: null, from: null, to: null })}>Clear filters</Button>}>
                The filters apply to the {list.data?.items.length} sessions on this page.
              </Empty>
            )
          }
        >
          {filtered && (
            <p className="muted small">
              {sessions.length} of {list.data?.items.length} sessions on this page match the filters.
            </p>
          )}
          <CardTable
            rows={sessions}
            rowKey={(s) => s.id}
            onRowClick={(s, e) => !(e.target as HTMLElement).closest('a') && s.recording.available && navigate(`/recordings/${encodeURIComponent(s.id)}`)}
            columns={[
              { label: 'Started', className: 'nowrap', cell: (s) => dateTime(s.startedAt) },
              { label: 'User', cell: (s) => s.user.username },
              { label: 'Secret', cell: (s) => s.secret.name },
              {
                label: 'Target',
                className: 'mono',
                cell: (s) => (
                  <>
                    {s.target.username ? `${s.target.username}@` : ''}
                    {s.target.host}
                  </>
                ),
              },
              { label: 'Protocol', cell: (s) => <Badge tone="blue">{PROTOCOL_LABELS[s.protocol] ?? s.protocol}</Badge> },
              { label: 'Duration', className: 'nowrap', cell: (s) => (s.endedAt ? duration(Date.parse(s.endedAt) - Date.parse(s.startedAt)) : '—') },
              { label: 'Ended because', className: 'small reason', cell: (s) => s.endReason ?? '—' },
              {
                label: 'Actions',
                actions: true,
                hideHeader: true,
                cell: (s) =>
                  s.recording.available ? (
                    <Link className="btn btn-sm btn-secondary" to={`/recordings/${encodeURIComponent(s.id)}`}>
                      Play
                    </Link>
                  ) : (
                    <span className="muted small">Not recorded</span>
                  ),
              },
            ]}
          />
          {list.data && <Pager offset={offset} limit={LIMIT} total={list.data.total} onChange={(o) => setQuery({ offset: o || null })} noun="session" />}
        </ListShell>
      )}
    </div>
  );
}
