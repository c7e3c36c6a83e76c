// Access requests (docs/access-workflows.md): ask for a window on a secret under a policy,
// see your requests and their state, and — for approvers — decide on those waiting.
import { useEffect, useState } from 'react';
import { api } from '../api';
import { CardTable } from '../components/CardTable';
import { Badge, Button, Card, Empty, ErrorAlert, PageHeader, SelectField, TextField, useToast } from '../components/ui';
import { useSubmit } from '../editing';
import { useApi, useTitle } from '../hooks';
import { useLocation } from '../router';
import type { AccessRequest, Page, Secret } from '../api-types';

const TONE: Record<AccessRequest['status'], 'neutral' | 'green' | 'red' | 'amber' | 'blue'> = {
  pending: 'amber',
  approved: 'green',
  denied: 'red',
  cancelled: 'neutral',
  revoked: 'red',
  expired: 'neutral',
};

const when = (iso: string) => new Date(iso).toLocaleString();
const approvals = (r: AccessRequest) => `${r.decisions.filter((d) => d.decision === 'approve').length} of ${r.approvalsRequired}`;

export function AccessRequests() {
  useTitle('Access requests');
  const toast = useToast();
  const { query } = useLocation();
  const secrets = useApi<Page<Secret>>('/secrets?limit=500');
  const mine = useApi<Page<AccessRequest>>('/access-requests?scope=mine&limit=200', { pollMs: 15_000 });
  const inbox = useApi<Page<AccessRequest>>('/access-requests?scope=approve&limit=200', { pollMs: 15_000 });
  const [secretId, setSecretId] = useState(query.get('secret') ?? '');
  const [reason, setReason] = useState('');
  const [minutes, setMinutes] = useState('');
  const [comment, setComment] = useState('');
  const submit = useSubmit();
  const decide = useSubmit();

  useEffect(() => {
    const s = query.get('secret');
    if (s) setSecretId(s);
  }, [query.get('secret')]);

  const request = () =>
    void submit.run(async () => {
      const n = minutes.trim() ? Number(minutes) : null;
      if (n !== null && (!Number.isInteger(n) || n < 1)) throw new Error('Enter the window length in whole minutes, or leave it empty.');
      const start = new Date();
      const r = await api.post<AccessRequest>('/access-requests', {
        secretId,
        reason,
        ...(n !== null ? { start: start.toISOString(), end: new Date(start.getTime() + n * 60_000).toISOString() } : {}),
      });
      toast(r.status === 'approved' ? `Access to ${r.secret.name} granted` : `Request sent: ${r.approvalsRequired} approval(s) needed`);
      setReason('');
      mine.reload();
    });

  const act = (r: AccessRequest, action: 'approve' | 'deny' | 'revoke') =>
    void decide.run(async () => {
      const next = await api.post<AccessRequest>(`/access-requests/${encodeURIComponent(r.id)}/${action}`, comment.trim() ? { comment: comment.trim() } : {});
      toast(`${next.requester.name} → ${next.secret.name}: ${next.status}`);
      setComment('');
      mine.reload();
      inbox.reload();
    });

  const windowCell = (r: AccessRequest) => `${when(r.start)} – ${when(r.end)}`;

  return (
    <>
      <PageHeader title="Access requests" subtitle="Secrets under an access request policy open for a window once approved." />
      <Card title="Request access">
        <SelectField
          label="Secret"
          id="access-secret"
          none="Choose a secret"
          value={secretId}
          onChange={setSecretId}
          options={(secrets.data?.items ?? []).filter((s) => s.access !== 'list').map((s) => ({ value: s.id, label: s.name }))}
        />
        <TextField label="Reason" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={1024} />
        <TextField label="Window length (minutes)" hint="Empty: the policy's default, starting now." inputMode="numeric" value={minutes} onChange={(e) => setMinutes(e.target.value)} />
        {submit.error ? <ErrorAlert error={submit.error} /> : null}
        <Button variant="primary" busy={submit.busy} disabled={!secretId} onClick={request}>
          Request access
        </Button>
      </Card>
      <Card title="Waiting for your decision">
        {inbox.data && inbox.data.items.length === 0 ? (
          <Empty icon="check" title="Nothing waiting for you" />
        ) : (
          <>
            <TextField label="Comment (optional)" value={comment} onChange={(e) => setComment(e.target.value)} maxLength={1024} />
            {decide.error ? <ErrorAlert error={decide.error} /> : null}
            <CardTable
              rows={inbox.data?.items ?? []}
              columns={[
                { label: 'Requester', cell: (r) => r.requester.name },
                { label: 'Secret', cell: (r) => r.secret.name },
                { label: 'Reason', cell: (r) => r.reason + (r.ticketRef ? ` (${r.ticketRef})` : '') },
                { label: 'Window', cell: windowCell, className: 'nowrap small' },
                { label: 'Approvals', cell: approvals },
                {
                  label: 'Decide',
                  actions: true,
                  cell: (r) => (
                    <>
                      <Button small variant="primary" busy={decide.busy} onClick={() => act(r, 'approve')}>
                        Approve
                      </Button>{' '}
                      <Button small busy={decide.busy} onClick={() => act(r, 'deny')}>
                        Deny
                      </Button>
                    </>
                  ),
                },
              ]}
            />
          </>
        )}
      </Card>
      <Card title="Your requests">
        {mine.data && mine.data.items.length === 0 ? (
          <Empty icon="key" title="No requests yet" />
        ) : (
          <CardTable
            rows={mine.data?.items ?? []}
            columns={[
              { label: 'Secret', cell: (r) => r.secret.name },
              { label: 'Status', cell: (r) => <Badge tone={TONE[r.status]}>{r.status}</Badge> },
              { label: 'Window', cell: windowCell, className: 'nowrap small' },
              { label: 'Approvals', cell: approvals },
              { label: 'Decisions', cell: (r) => r.decisions.map((d) => `${d.approverName}: ${d.decision}${d.comment ? ` (${d.comment})` : ''}`).join('; ') || '—' },
              {
                label: 'Actions',
                actions: true,
                cell: (r) =>
                  r.status === 'pending' || r.status === 'approved' ? (
                    <Button small busy={decide.busy} onClick={() => act(r, 'revoke')}>
                      {r.status === 'pending' ? 'Withdraw' : 'Give up'}
                    </Button>
                  ) : null,
              },
            ]}
          />
        )}
      </Card>
    </>
  );
}
