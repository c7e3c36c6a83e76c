// The audit trail: filter by action (a trailing * matches a prefix), dates, paging, and a
// check of the hash chain and its signed checkpoints.
import { useState } from 'react';
import { api, apiUrl, errorText, qs } from '../../api';
import { CardTable } from '../../components/CardTable';
import { Icon } from '../../components/Icon';
import { ListShell } from '../../components/ListShell';
import { Alert, Badge, Button, Empty, FilterInput, PageHeader, Pager, SearchBox } from '../../components/ui';
import { useSubmit } from '../../editing';
import { dateTimeSec } from '../../format';
import { useApi, useDebounced, useTitle } from '../../hooks';
import { setQuery, useLocation } from '../../router';
import type { AuditEvent, Page, VerifyResult } from '../../api-types';
import './Audit.css';

const LIMIT = 50;
const COMMON = ['auth.*', 'session.*', 'secret.*', 'recording.*', 'user.*', 'group.*', 'role.*', 'folder.*', 'template.*', 'launcher.*', 'settings.*', 'ticket.*', 'vault.*'];

/** A readable name for the event's target, when the details carry one. */
function targetName(e: AuditEvent): string | null {
  for (const k of ['name', 'username']) {
    const v = e.details[k];
    if (typeof v === 'string' && v) return v;
  }
  return null;
}

export function Audit() {
  useTitle('Audit log');
  const { query } = useLocation();
  const [action, setAction] = useState(query.get('action') ?? '');
  const a = useDebounced(action.trim(), 300);
  const since = query.get('since') ?? '';
  const until = query.get('until') ?? '';
  const offset = Number(query.get('offset') ?? 0) || 0;
  const path = `/audit${qs({ action: a, since: since ? new Date(since + 'T00:00:00').toISOString() : undefined, until: until ? new Date(until + 'T23:59:59.999').toISOString() : undefined, limit: LIMIT, offset })}`;
  const events = useApi<Page<AuditEvent>>(path);
  const [open, setOpen] = useState<number | null>(null);
  const [verify, setVerify] = useState<VerifyResult | null>(null);
  const { busy: verifying, error: verifyError, run } = useSubmit();

  const runVerify = () =>
    run(async () => {
      setVerify(null);
      setVerify(await api.get<VerifyResult>('/audit/verify'));
    });

  const setActionQ = (v: string) => {
    setAction(v);
    setQuery({ action: v || null, offset: null });
  };

  return (
    <div className="page page-wide">
      <PageHeader
        title="Audit log"
        subtitle="Every sign-in, change, launch and session, in a tamper-evident hash chain. Newest first."
        actions={
          <>
            <a className="btn btn-secondary" href={apiUrl('/audit/export')} download="gatehouse-audit.jsonl">
              <Icon name="download" />
              <span>Export</span>
            </a>
            <Button variant="primary" icon="shield" busy={verifying} onClick={() => void runVerify()}>
              Verify chain
            </Button>
          </>
        }
      />
      {verify &&
        (verify.ok ? (
          <Alert kind="success" title="The audit chain is intact" onClose={() => setVerify(null)}>
            {verify.count} events verified; {verify.checkpoints} signed checkpoint{verify.checkpoints === 1 ? '' : 's'}
            {verify.lastCheckpointSeq !== undefined ? `, the last at event ${verify.lastCheckpointSeq}` : ''}.
          </Alert>
        ) : (
          <Alert kind="error" title="The audit chain is broken" onClose={() => setVerify(null)}>
            {verify.message ?? `Broken at event ${verify.brokenAt}${verify.reason ? ` (${verify.reason})` : ''}.`} {verify.count} events checked.
          </Alert>
        ))}
      {verifyError ? <Alert kind="error" title="Verification failed">{errorText(verifyError)}</Alert> : null}
      <div className="filters">
        <label className="filter-wide">
          <span>Action</span>
          <SearchBox value={action} onChange={setActionQ} placeholder="e.g. auth.login or session.*" label="Action filter" />
        </label>
        <FilterInput label="From" type="date" value={since} onChange={(e) => setQuery({ since: e.target.value || null, offset: null })} />
        <FilterInput label="To" type="date" value={until} onChange={(e) => setQuery({ until: e.target.value || null, offset: null })} />
      </div>
      <div className="chips-row">
        {COMMON.map((c) => (
          <button key={c} type="button" className={`chip-btn${a === c ? ' active' : ''}`} onClick={() => setActionQ(a === c ? '' : c)}>
            {c.replace('.*', '')}
          </button>
        ))}
      </div>
      <ListShell
        resource={events}
        isEmpty={events.data?.items.length === 0}
        empty={
          <Empty icon="list" title="No events">
            {a || since || until ? 'No event matches the filters.' : 'The audit trail is empty.'}
          </Empty>
        }
      >
        <CardTable
          className="audit-table"
          rows={events.data?.items}
          rowKey={(e) => e.seq}
          rowProps={(e) => ({ className: `table-click${open === e.seq ? ' open' : ''}`, onClick: () => setOpen(open === e.seq ? null : e.seq), 'aria-expanded': open === e.seq })}
          detail={(e) =>
            open === e.seq && (
              <div className="audit-detail">
                <pre>{JSON.stringify(e.details, null, 2)}</pre>
                <dl className="facts small">
                  <dt>Hash</dt>
                  <dd className="mono break">{e.hash}</dd>
                  <dt>Previous</dt>
                  <dd className="mono break">{e.prevHash}</dd>
                </dl>
              </div>
            )
          }
          columns={[
            { label: '#', className: 'mono muted', cell: (e) => e.seq },
            { label: 'Time', className: 'nowrap', cell: (e) => dateTimeSec(e.ts) },
            { label: 'Actor', cell: (e) => e.actorName ?? <span className="muted">system</span> },
            { label: 'Action', className: 'mono', cell: (e) => e.action },
            {
              label: 'Target',
              className: 'small',
              cell: (e) =>
                e.targetType ? (
                  <span title={e.targetId ?? undefined}>
                    {e.targetType} {targetName(e) ? <strong>{targetName(e)}</strong> : <span className="mono muted">{e.targetId?.slice(0, 8)}</span>}
                  </span>
                ) : (
                  '—'
                ),
            },
            { label: 'Outcome', cell: (e) => (e.outcome === 'success' ? <Badge tone="green">success</Badge> : <Badge tone="red">failure</Badge>) },
            { label: 'Address', className: 'mono small', cell: (e) => e.ip ?? '—' },
          ]}
        />
        {events.data && <Pager offset={offset} limit={LIMIT} total={events.data.total} onChange={(o) => setQuery({ offset: o || null })} noun="event" />}
      </ListShell>
    </div>
  );
}
