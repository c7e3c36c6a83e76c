// Access request policies (administrators): the list, and one policy's edit page with every
// field of the contract — approvers (N of M), pre-approved people, window lengths, allowed
// hours, modes, MFA step-up, recording with consent, checkout, reason and ticket reference.
// Attaching a policy is on the secret's and the folder's own pages (PolicyCard).
import { useEffect, useMemo, useState } from 'react';
import { CardTable } from '../../components/CardTable';
import { BackLink, Pending, ResourceForm } from '../../components/EditForm';
import { ListShell, NewLink } from '../../components/ListShell';
import { Picker, type Option } from '../../components/Picker';
import { Badge, Card, Checkbox, Empty, ErrorAlert, Field, PageHeader, SelectField, TextField } from '../../components/ui';
import { useEditor } from '../../editing';
import { useApi, useTitle } from '../../hooks';
import type { AccessPolicy, Group, Page, User } from '../../api-types';
import './AccessPolicies.css';

type Mode = AccessPolicy['allowedModes'][number];
type Mfa = AccessPolicy['mfa'];
type TicketReference = AccessPolicy['ticketReference'];
type Principals = AccessPolicy['approvers'];

const MODES: readonly Mode[] = ['ssh', 'telnet', 'rdp'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MFA_LABELS: Record<Mfa, string> = { never: 'Never', always: 'Always', untrusted: 'Outside trusted networks' };
const TICKET_LABELS: Record<TicketReference, string> = { none: 'Not asked', optional: 'Optional', required: 'Required' };

const names = (list: Principals) => list.map((p) => (p.principalType === 'group' ? `@${p.principalName ?? p.principalId}` : (p.principalName ?? p.principalId))).join(', ') || '—';
const minutes = (n: number) => (n % 1440 === 0 ? `${n / 1440} d` : n % 60 === 0 ? `${n / 60} h` : `${n} min`);
const hoursText = (h: AccessPolicy['allowedHours']) => {
  if (!h) return 'Any time';
  const days = h.days.length === 0 || h.days.length === 7 ? 'every day' : [...h.days].sort().map((d) => DAYS[d]).join(', ');
  return `${days} ${h.from}–${h.to} (${h.timeZone})`;
};

export function AccessPolicies() {
  useTitle('Access policies');
  const list = useApi<Page<AccessPolicy>>('/access-policies?limit=500');
  return (
    <div className="page">
      <PageHeader
        title="Access policies"
        subtitle="Who approves access to the secrets and folders a policy is attached to, for how long, when and how."
        actions={<NewLink to="/admin/access-policies/new">New policy</NewLink>}
      />
      <ListShell
        resource={list}
        isEmpty={list.data?.items.length === 0}
        empty={
          <Empty icon="shield" title="No access policies yet">
            Secrets without a policy launch as before: view access is enough.
          </Empty>
        }
      >
        <CardTable
          rows={list.data?.items}
          href={(p) => `/admin/access-policies/${p.id}`}
          columns={[
            { label: 'Name', title: (p) => p.name, cell: (p) => p.description && <div className="cell-sub">{p.description}</div> },
            { label: 'Approvers', cell: (p) => `${p.approvalsRequired} of ${names(p.approvers)}` },
            { label: 'Pre-approved', cell: (p) => names(p.preApproved) },
            { label: 'Window', cell: (p) => `${minutes(p.defaultWindowMinutes)} (at most ${minutes(p.maxWindowMinutes)})`, className: 'nowrap' },
            { label: 'Hours', cell: (p) => hoursText(p.allowedHours) },
            { label: 'Modes', cell: (p) => p.allowedModes.join(', ').toUpperCase() },
            {
              label: 'Requires',
              cell: (p) => (
                <span className="policy-badges">
                  {p.mfa !== 'never' && <Badge tone="violet">{p.mfa === 'always' ? 'MFA' : 'MFA outside trusted networks'}</Badge>}
                  {p.recordingRequired && <Badge tone="amber">Consent</Badge>}
                  {p.checkoutRequired && <Badge tone="blue">Checkout</Badge>}
                  {p.reasonRequired && <Badge>Reason</Badge>}
                  {p.ticketReference === 'required' && <Badge>Ticket</Badge>}
                </span>
              ),
            },
          ]}
        />
      </ListShell>
    </div>
  );
}

/** The browser's own time zone: the default for new allowed hours. */
const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

interface Hours {
  on: boolean;
  days: number[];
  from: string;
  to: string;
  timeZone: string;
}

/** A whole number in [min, max], or an error naming the field. */
function whole(v: string, what: string, min: number, max: number): number {
  const n = Number(v.trim());
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new Error(`${what}: enter a whole number from ${min} to ${max}.`);
  return n;
}

export function AccessPolicyEdit({ id }: { id: string }) {
  const editor = useEditor<AccessPolicy>({ collection: '/access-policies', id, route: '/admin/access-policies', created: (p) => `Policy ${p.name} created; attach it on a secret or folder` });
  const { isNew, item: policy } = editor;
  const users = useApi<Page<User>>('/users?limit=500');
  const groups = useApi<Page<Group>>('/groups?limit=500');
  useTitle(isNew ? 'New access policy' : (policy.data?.name ?? 'Access policy'));

  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [approverUsers, setApproverUsers] = useState<string[]>([]);
  const [approverGroups, setApproverGroups] = useState<string[]>([]);
  const [approvals, setApprovals] = useState('1');
  const [preUsers, setPreUsers] = useState<string[]>([]);
  const [preGroups, setPreGroups] = useState<string[]>([]);
  const [defaultWindow, setDefaultWindow] = useState('60');
  const [maxWindow, setMaxWindow] = useState('480');
  const [hours, setHours] = useState<Hours>({ on: false, days: [1, 2, 3, 4, 5], from: '08:00', to: '18:00', timeZone: localZone() });
  const [modes, setModes] = useState<Mode[]>([...MODES]);
  const [mfa, setMfa] = useState<Mfa>('never');
  const [trusted, setTrusted] = useState('');
  const [mfaMaxAge, setMfaMaxAge] = useState('5');
  const [recordingRequired, setRecordingRequired] = useState(false);
  const [consentText, setConsentText] = useState('');
  const [checkoutRequired, setCheckoutRequired] = useState(false);
  const [rotateAfterUse, setRotateAfterUse] = useState(false);
  const [reasonRequired, setReasonRequired] = useState(true);
  const [ticketReference, setTicketReference] = useState<TicketReference>('none');

  useEffect(() => {
    const p = policy.data;
    if (!p) return;
    const ids = (list: Principals, type: 'user' | 'group') => list.filter((x) => x.principalType === type).map((x) => x.principalId);
    setName(p.name);
    setDescription(p.description);
    setApproverUsers(ids(p.approvers, 'user'));
    setApproverGroups(ids(p.approvers, 'group'));
    setApprovals(String(p.approvalsRequired));
    setPreUsers(ids(p.preApproved, 'user'));
    setPreGroups(ids(p.preApproved, 'group'));
    setDefaultWindow(String(p.defaultWindowMinutes));
    setMaxWindow(String(p.maxWindowMinutes));
    setHours(p.allowedHours ? { on: true, ...p.allowedHours } : (h) => ({ ...h, on: false }));
    setModes([...p.allowedModes]);
    setMfa(p.mfa);
    setTrusted(p.trustedNetworks.join('\n'));
    setMfaMaxAge(String(p.mfaMaxAgeMinutes));
    setRecordingRequired(p.recordingRequired);
    setConsentText(p.consentText);
    setCheckoutRequired(p.checkoutRequired);
    setRotateAfterUse(p.rotateAfterUse);
    setReasonRequired(p.reasonRequired);
    setTicketReference(p.ticketReference);
  }, [policy.data]);

  // The directory's users and groups, plus any the policy names that the lists lack.
  const [userOptions, groupOptions] = useMemo(() => {
    const u: Option[] = (users.data?.items ?? []).map((x) => ({ id: x.id, label: x.username, sub: x.displayName !== x.username ? x.displayName : undefined }));
    const g: Option[] = (groups.data?.items ?? []).map((x) => ({ id: x.id, label: x.name, sub: x.description || undefined }));
    for (const p of [...(policy.data?.approvers ?? []), ...(policy.data?.preApproved ?? [])]) {
      const opts = p.principalType === 'user' ? u : g;
      if (!opts.some((o) => o.id === p.principalId)) opts.push({ id: p.principalId, label: p.principalName ?? p.principalId });
    }
    return [u, g];
  }, [users.data, groups.data, policy.data]);

  const save = () => {
    let body: Record<string, unknown>;
    try {
      const principals = (userIds: string[], groupIds: string[]) => [
        ...userIds.map((principal) => ({ principalType: 'user' as const, principal })),
        ...groupIds.map((principal) => ({ principalType: 'group' as const, principal })),
      ];
      body = {
        name: name.trim(),
        description: description.trim(),
        approvers: principals(approverUsers, approverGroups),
        approvalsRequired: whole(approvals, 'Approvals needed', 1, 50),
        preApproved: principals(preUsers, preGroups),
        defaultWindowMinutes: whole(defaultWindow, 'Default window', 1, 525600),
        maxWindowMinutes: whole(maxWindow, 'Longest window', 1, 525600),
        allowedHours: hours.on ? { days: [...hours.days].sort(), from: hours.from, to: hours.to, timeZone: hours.timeZone.trim() } : null,
        allowedModes: modes,
        mfa,
        trustedNetworks: trusted
          .split(/[\s,]+/)
          .map((s) => s.trim())
          .filter(Boolean),
        mfaMaxAgeMinutes: whole(mfaMaxAge, 'MFA valid for', 1, 1440),
        recordingRequired,
        consentText: consentText.trim(),
        checkoutRequired,
        rotateAfterUse,
        reasonRequired,
        ticketReference,
      };
    } catch (e) {
      editor.setError(e);
      return;
    }
    void editor.save(body);
  };

  if (!isNew && !policy.data) return <Pending resource={policy} />;
  const p = policy.data;
  return (
    <div className="page page-narrow policy-edit">
      <PageHeader back={<BackLink to="/admin/access-policies">Access policies</BackLink>} title={isNew ? 'New access policy' : p!.name} subtitle="Applies to the secrets and folders it is attached to (a folder's policy covers what is inside it)." />
      <ResourceForm
        editor={editor}
        noun="policy"
        onSave={save}
        canSave={!!name.trim() && modes.length > 0}
        remove={p && { confirmTitle: `Delete the policy ${p.name}?`, body: 'Only a policy attached to no secret or folder can be deleted.', done: 'Policy deleted' }}
      >
        <Card title="Policy">
          <div className="form-grid">
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus={isNew} maxLength={128} />
            <TextField label="Description" value={description} onChange={(e) => setDescription(e.target.value)} placeholder="optional" maxLength={1024} />
          </div>
        </Card>

        <Card title="Approval" description="A request needs this many approvals from the approvers (a group's members approve); nobody approves their own request.">
          <ErrorAlert error={users.error ?? groups.error} />
          <div className="form-grid">
            <Field label="Approvers (users)">
              <Picker label="Approver users" options={userOptions} value={approverUsers} onChange={setApproverUsers} placeholder="Type a username…" />
            </Field>
            <Field label="Approvers (groups)">
              <Picker label="Approver groups" options={groupOptions} value={approverGroups} onChange={setApproverGroups} placeholder="Type a group name…" />
            </Field>
            <TextField label="Approvals needed" type="number" min={1} max={50} value={approvals} onChange={(e) => setApprovals(e.target.value)} hint="N of M, where M counts the distinct people named or in the groups." />
          </div>
          <div className="form-grid">
            <Field label="Pre-approved (users)">
              <Picker label="Pre-approved users" options={userOptions} value={preUsers} onChange={setPreUsers} placeholder="Type a username…" />
            </Field>
            <Field label="Pre-approved (groups)">
              <Picker label="Pre-approved groups" options={groupOptions} value={preGroups} onChange={setPreGroups} placeholder="Type a group name…" />
            </Field>
          </div>
          <p className="muted small">Pre-approved people launch without a request; their requests are granted at once.</p>
          <div className="stack-sm">
            <Checkbox label="A reason is required" checked={reasonRequired} onChange={setReasonRequired} />
          </div>
          <div className="form-grid">
            <SelectField id="policy-ticket" label="Ticket reference" value={ticketReference} onChange={(v) => setTicketReference(v as TicketReference)} options={Object.entries(TICKET_LABELS).map(([value, label]) => ({ value, label }))} />
          </div>
        </Card>

        <Card title="Window" description="How long a grant lasts when a request names no end, and the longest it may ask for.">
          <div className="form-grid">
            <TextField label="Default window (minutes)" type="number" min={1} max={525600} value={defaultWindow} onChange={(e) => setDefaultWindow(e.target.value)} />
            <TextField label="Longest window (minutes)" type="number" min={1} max={525600} value={maxWindow} onChange={(e) => setMaxWindow(e.target.value)} />
          </div>
        </Card>

        <Card title="When and how" description="Launches outside the allowed hours or in other modes are refused, even with a grant.">
          <Checkbox label="Only at certain hours" checked={hours.on} onChange={(on) => setHours({ ...hours, on })} />
          {hours.on && (
            <div className="policy-hours">
              <fieldset className="policy-days">
                <legend className="field-label">Days (none ticked: every day)</legend>
                {DAYS.map((d, i) => (
                  <Checkbox key={d} label={d} checked={hours.days.includes(i)} onChange={(on) => setHours({ ...hours, days: on ? [...hours.days, i] : hours.days.filter((x) => x !== i) })} />
                ))}
              </fieldset>
              <div className="form-grid">
                <TextField label="From" type="time" value={hours.from} onChange={(e) => setHours({ ...hours, from: e.target.value })} required />
                <TextField label="To" type="time" value={hours.to} onChange={(e) => setHours({ ...hours, to: e.target.value })} required hint="Before “from”: runs past midnight." />
                <TextField label="Time zone" value={hours.timeZone} onChange={(e) => setHours({ ...hours, timeZone: e.target.value })} required maxLength={64} spellCheck={false} hint="An IANA name, e.g. Europe/Berlin or UTC." />
              </div>
            </div>
          )}
          <fieldset className="policy-modes">
            <legend className="field-label">Allowed modes</legend>
            {MODES.map((mode) => (
              <Checkbox key={mode} label={`Allow ${mode.toUpperCase()}`} checked={modes.includes(mode)} onChange={(on) => setModes((cur) => (on ? MODES.filter((x) => x === mode || cur.includes(x)) : cur.filter((x) => x !== mode)))} />
            ))}
          </fieldset>
        </Card>

        <Card title="MFA step-up" description="A launch needs a fresh second factor, even for a signed-in person.">
          <div className="form-grid">
            <SelectField id="policy-mfa" label="Require MFA" value={mfa} onChange={(v) => setMfa(v as Mfa)} options={Object.entries(MFA_LABELS).map(([value, label]) => ({ value, label }))} />
            <TextField label="MFA valid for (minutes)" type="number" min={1} max={1440} value={mfaMaxAge} onChange={(e) => setMfaMaxAge(e.target.value)} disabled={mfa === 'never'} hint="A code verified this recently counts." />
          </div>
          {mfa === 'untrusted' && (
            <Field label="Trusted networks" hint="CIDRs, one per line (e.g. 10.0.0.0/8): launches from them need no step-up.">
              <textarea className="input mono" rows={3} value={trusted} onChange={(e) => setTrusted(e.target.value)} spellCheck={false} />
            </Field>
          )}
        </Card>

        <Card title="Recording and checkout">
          <div className="stack-sm">
            <Checkbox label="Recording with consent is required" hint="Every door shows the consent text; the person must agree or the session does not start." checked={recordingRequired} onChange={setRecordingRequired} />
          </div>
          <Field label="Consent text" hint={recordingRequired && !consentText.trim() ? 'Required for the consent to be asked.' : undefined}>
            <textarea className="input" rows={4} value={consentText} onChange={(e) => setConsentText(e.target.value)} maxLength={4096} disabled={!recordingRequired} />
          </Field>
          <div className="stack-sm">
            <Checkbox label="Checkout is required" hint="A launch checks the shared credential out: nobody else may launch it meanwhile." checked={checkoutRequired} onChange={setCheckoutRequired} />
            <Checkbox label="Rotate after use" hint="When a session ends or a checkout is checked in, the managed account's password is changed on the target (docs: target accounts)." checked={rotateAfterUse} onChange={setRotateAfterUse} />
          </div>
        </Card>
      </ResourceForm>
    </div>
  );
}
