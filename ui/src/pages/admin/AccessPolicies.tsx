// Access request policies (administrators): the list, and a form for a new one. Attaching a
// policy to a secret or folder, and every other field, is in the API and the CLI
// (`gatehouse access policies …`; docs/access-workflows.md).
import { useState } from 'react';
import { api } from '../../api';
import { CardTable } from '../../components/CardTable';
import { Button, Card, Checkbox, Empty, ErrorAlert, PageHeader, TextField, useConfirm, useToast } from '../../components/ui';
import { useSubmit } from '../../editing';
import { useApi, useTitle } from '../../hooks';
import type { AccessPolicy, Page } from '../../api-types';

const MODES = ['ssh', 'telnet', 'rdp'] as const;
const names = (list: AccessPolicy['approvers']) => list.map((p) => (p.principalType === 'group' ? `@${p.principalName ?? p.principalId}` : (p.principalName ?? p.principalId))).join(', ') || '—';
/** "bob, @night-ops" → users and groups (a leading @ names a group). */
const principals = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s.startsWith('@') ? { principalType: 'group' as const, principal: s.slice(1) } : { principalType: 'user' as const, principal: s }));

export function AccessPolicies() {
  useTitle('Access policies');
  const toast = useToast();
  const confirm = useConfirm();
  const list = useApi<Page<AccessPolicy>>('/access-policies?limit=500');
  const [name, setName] = useState('');
  const [approvers, setApprovers] = useState('');
  const [approvals, setApprovals] = useState('1');
  const [preApproved, setPreApproved] = useState('');
  const [defaultWindow, setDefaultWindow] = useState('60');
  const [maxWindow, setMaxWindow] = useState('480');
  const [modes, setModes] = useState<string[]>([...MODES]);
  const [reasonRequired, setReasonRequired] = useState(true);
  const submit = useSubmit();

  const whole = (v: string, what: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: enter a whole number.`);
    return n;
  };
  const create = () =>
    void submit.run(async () => {
      const p = await api.post<AccessPolicy>('/access-policies', {
        name: name.trim(),
        approvers: principals(approvers),
        approvalsRequired: whole(approvals, 'Approvals needed'),
        preApproved: principals(preApproved),
        defaultWindowMinutes: whole(defaultWindow, 'Default window'),
        maxWindowMinutes: whole(maxWindow, 'Longest window'),
        allowedModes: modes,
        reasonRequired,
      });
      toast(`Policy ${p.name} created; attach it to a secret or folder with policyId`);
      setName('');
      list.reload();
    });
  const remove = async (p: AccessPolicy) => {
    if ((await confirm({ title: `Delete policy ${p.name}?`, body: 'Only a policy attached to no secret or folder can be deleted.', confirmLabel: 'Delete', danger: true })) === null) return;
    await submit.run(async () => {
      await api.del(`/access-policies/${encodeURIComponent(p.id)}`);
      list.reload();
    });
  };

  return (
    <>
      <PageHeader title="Access policies" subtitle="Who approves access to the secrets and folders a policy is attached to, for how long, when and how." />
      <Card title="Policies">
        {list.error ? <ErrorAlert error={list.error} /> : null}
        {list.data && list.data.items.length === 0 ? (
          <Empty icon="shield" title="No access policies yet">Secrets without a policy launch as before: view access is enough.</Empty>
        ) : (
          <CardTable
            rows={list.data?.items ?? []}
            columns={[
              { label: 'Name', cell: (p) => p.name },
              { label: 'Approvers', cell: (p) => `${p.approvalsRequired} of ${names(p.approvers)}` },
              { label: 'Pre-approved', cell: (p) => names(p.preApproved) },
              { label: 'Window', cell: (p) => `${p.defaultWindowMinutes} min (at most ${p.maxWindowMinutes})`, className: 'nowrap' },
              { label: 'Modes', cell: (p) => p.allowedModes.join(', ').toUpperCase() },
              {
                label: 'Actions',
                actions: true,
                cell: (p) => (
                  <Button small variant="ghost" icon="trash" onClick={() => void remove(p)}>
                    Delete
                  </Button>
                ),
              },
            ]}
          />
        )}
      </Card>
      <Card title="New policy">
        <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} maxLength={128} />
        <TextField label="Approvers" hint="User names, comma-separated; @name for a group." value={approvers} onChange={(e) => setApprovers(e.target.value)} />
        <TextField label="Approvals needed" inputMode="numeric" value={approvals} onChange={(e) => setApprovals(e.target.value)} />
        <TextField label="Pre-approved" hint="Launch without a request: user names, @group." value={preApproved} onChange={(e) => setPreApproved(e.target.value)} />
        <TextField label="Default window (minutes)" inputMode="numeric" value={defaultWindow} onChange={(e) => setDefaultWindow(e.target.value)} />
        <TextField label="Longest window (minutes)" inputMode="numeric" value={maxWindow} onChange={(e) => setMaxWindow(e.target.value)} />
        {MODES.map((m) => (
          <Checkbox key={m} label={`Allow ${m.toUpperCase()}`} checked={modes.includes(m)} onChange={(on) => setModes((cur) => (on ? [...cur, m] : cur.filter((x) => x !== m)))} />
        ))}
        <Checkbox label="A reason is required" checked={reasonRequired} onChange={setReasonRequired} />
        {submit.error ? <ErrorAlert error={submit.error} /> : null}
        <Button variant="primary" busy={submit.busy} disabled={!name.trim()} onClick={create}>
          Create policy
        </Button>
      </Card>
    </>
  );
}
