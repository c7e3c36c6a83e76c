// Launchers: built-in ssh/telnet/rdp and session connector launchers (child type + gateway),
// with recording, keystrokes, timeouts, port forwarding, the consent text and, for RDP,
// the redirection policy (clipboard, drives, printers).
import { useEffect, useState } from 'react';
import { CardTable } from '../../components/CardTable';
import { BackLink, Pending, ResourceForm } from '../../components/EditForm';
import { ListShell, NewLink } from '../../components/ListShell';
import { Alert, Badge, Card, Checkbox, Empty, Field, PageHeader, SelectField, Switch, TextField } from '../../components/ui';
import { useEditor } from '../../editing';
import { PROTOCOL_LABELS } from '../../format';
import { useApi, useTitle } from '../../hooks';
import type { Launcher, Page, Protocol, Secret } from '../../api-types';

const seconds = (n: number) => (n <= 0 ? 'none' : n % 3600 === 0 ? `${n / 3600} h` : n % 60 === 0 ? `${n / 60} min` : `${n} s`);

export function Launchers() {
  useTitle('Launchers');
  const launchers = useApi<Page<Launcher>>('/launchers?limit=500');
  return (
    <div className="page">
      <PageHeader
        title="Launchers"
        subtitle="How sessions are opened: protocol, recording, limits. Session connectors send clients to another gateway address."
        actions={<NewLink to="/admin/launchers/new">New session connector</NewLink>}
      />
      <ListShell resource={launchers} isEmpty={launchers.data?.items.length === 0} empty={<Empty title="No launchers" />}>
        <CardTable
          rows={launchers.data?.items}
          href={(l) => `/admin/launchers/${l.id}`}
          columns={[
            {
              label: 'Launcher',
              title: (l) => l.name,
              cell: (l) => (
                <>
                  {' '}
                  {l.builtin && <Badge>Built-in</Badge>} {!l.active && <Badge tone="amber">Inactive</Badge>}
                  {l.type === 'session-connector' && (
                    <div className="cell-sub mono">
                      via {l.gatewayHost}
                      {l.gatewayPort ? `:${l.gatewayPort}` : ''}
                    </div>
                  )}
                </>
              ),
            },
            { label: 'Protocol', cell: (l) => <Badge tone="blue">{PROTOCOL_LABELS[l.protocol] ?? l.protocol}</Badge> },
            { label: 'Recording', cell: (l) => (l.record ? (l.recordKeystrokes ? 'Screen and keystrokes' : 'Screen') : <span className="muted">Off</span>) },
            { label: 'Idle timeout', cell: (l) => seconds(l.idleTimeoutSeconds) },
            { label: 'Max duration', cell: (l) => seconds(l.maxDurationSeconds) },
            { label: 'Port forwarding', cell: (l) => (l.allowPortForwarding ? 'Allowed' : <span className="muted">No</span>) },
          ]}
        />
      </ListShell>
    </div>
  );
}

const num = (s: string) => (s.trim() === '' ? 0 : Math.max(0, Math.floor(Number(s))));

export function LauncherEdit({ id }: { id: string }) {
  const editor = useEditor<Launcher>({ collection: '/launchers', id, route: '/admin/launchers', created: (r) => `Launcher ${r.name} created` });
  const { isNew, item: launcher } = editor;
  useTitle(isNew ? 'New session connector' : (launcher.data?.name ?? 'Launcher'));
  const [name, setName] = useState('');
  const [childType, setChildType] = useState<Protocol>('ssh');
  const [gatewayHost, setGatewayHost] = useState('');
  const [gatewayPort, setGatewayPort] = useState('');
  const [active, setActive] = useState(true);
  const [record, setRecord] = useState(true);
  const [recordKeystrokes, setRecordKeystrokes] = useState(true);
  const [idle, setIdle] = useState('0');
  const [maxDur, setMaxDur] = useState('0');
  const [forwarding, setForwarding] = useState(false);
  const [consentText, setConsentText] = useState('');
  const [telnet, setTelnet] = useState({ telnetLoginPrompt: '', telnetPasswordPrompt: '', telnetFailurePattern: '' });
  const [redirect, setRedirect] = useState({ rdpClipboard: true, rdpDrives: true, rdpPrinters: true });
  const [rdsCredentials, setRdsCredentials] = useState('');
  // Shared control (seed 003 names): left out = live view allowed, joins not allowed.
  const [sharing, setSharing] = useState({ allowLiveSnooping: true, allowJoinRequests: false, allowJoinInvites: false });
  const secrets = useApi<Page<Secret>>('/secrets?limit=500');

  useEffect(() => {
    const l = launcher.data;
    if (!l) return;
    setName(l.name);
    setChildType(l.childType ?? l.protocol);
    setGatewayHost(l.gatewayHost ?? '');
    setGatewayPort(l.gatewayPort ? String(l.gatewayPort) : '');
    setActive(l.active);
    setRecord(l.record);
    setRecordKeystrokes(l.recordKeystrokes);
    setIdle(String(l.idleTimeoutSeconds));
    setMaxDur(String(l.maxDurationSeconds));
    setForwarding(l.allowPortForwarding);
    setConsentText(l.options.consentText ?? '');
    setTelnet({ telnetLoginPrompt: l.options.telnetLoginPrompt ?? '', telnetPasswordPrompt: l.options.telnetPasswordPrompt ?? '', telnetFailurePattern: l.options.telnetFailurePattern ?? '' });
    // Left out = allowed.
    setRedirect({ rdpClipboard: l.options.rdpClipboard !== false, rdpDrives: l.options.rdpDrives !== false, rdpPrinters: l.options.rdpPrinters !== false });
    setRdsCredentials(l.options.rdsServerCredentials ?? '');
    setSharing({ allowLiveSnooping: l.options.allowLiveSnooping !== false, allowJoinRequests: l.options.allowJoinRequests === true, allowJoinInvites: l.options.allowJoinInvites === true });
  }, [launcher.data]);

  const l = launcher.data;
  const builtin = !!l?.builtin;
  const connector = isNew || l?.type === 'session-connector';
  const protocol: Protocol = connector ? childType : (l?.protocol ?? 'ssh');

  const save = () => {
    const options: Record<string, string | boolean | null> = {};
    if (connector && rdsCredentials) options.rdsServerCredentials = rdsCredentials;
    if (consentText.trim()) options.consentText = consentText.trim();
    if (protocol === 'telnet') for (const [k, v] of Object.entries(telnet)) if (v.trim()) options[k] = v.trim();
    if (protocol === 'rdp') Object.assign(options, redirect);
    Object.assign(options, sharing);
    const body: Record<string, unknown> = {
      active,
      record,
      recordKeystrokes: record && recordKeystrokes,
      idleTimeoutSeconds: num(idle),
      maxDurationSeconds: num(maxDur),
      allowPortForwarding: forwarding,
      options,
    };
    if (connector) Object.assign(body, { childType, gatewayHost: gatewayHost.trim() || null, gatewayPort: gatewayPort.trim() ? Number(gatewayPort) : null });
    if (!builtin) body.name = name.trim();
    void editor.save(body, { ...body, type: 'session-connector' });
  };

  if (!isNew && !l) return <Pending resource={launcher} />;
  return (
    <div className="page page-narrow">
      <PageHeader
        back={<BackLink to="/admin/launchers">Launchers</BackLink>}
        title={isNew ? 'New session connector' : l!.name}
        subtitle={l && (builtin ? <Badge>Built-in</Badge> : <Badge tone="violet">Session connector</Badge>)}
      />
      <ResourceForm
        editor={editor}
        noun="launcher"
        onSave={save}
        canSave={!!name.trim() && (!connector || !!gatewayHost.trim())}
        remove={l && !builtin && { confirmTitle: `Delete the launcher ${l.name}?`, body: 'Templates that map to it lose this way of opening.', done: 'Launcher deleted', path: `/launchers/${encodeURIComponent(l.id)}` }}
      >
        <Card title="Launcher">
          {builtin && <Alert kind="info">The name and type of built-in launchers cannot change; deactivate one to hide it.</Alert>}
          <div className="form-grid">
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required disabled={builtin} autoFocus={isNew} maxLength={128} />
            {connector && (
              <Field label="Child launcher type" hint="The protocol clients speak to the gateway.">
                <select className="input" value={childType} onChange={(e) => setChildType(e.target.value as Protocol)} disabled={!isNew && !connector}>
                  <option value="ssh">SSH</option>
                  <option value="telnet">Telnet</option>
                  <option value="rdp">RDP</option>
                </select>
              </Field>
            )}
            {connector && <TextField label="Gateway host" value={gatewayHost} onChange={(e) => setGatewayHost(e.target.value)} required placeholder="gateway.example.com" hint="The address clients are sent to (a cluster name works)." spellCheck={false} />}
            {connector && <TextField label="Gateway port" type="number" min={1} max={65535} value={gatewayPort} onChange={(e) => setGatewayPort(e.target.value)} placeholder="default for the protocol" />}
            {connector && (
              <SelectField
                label="RDS Server Credentials"
                id="launcher-rds-credentials"
                none="None"
                hint="The secret a gateway node fetches with its own application account (share the secret with each node's account)."
                value={rdsCredentials}
                onChange={setRdsCredentials}
                options={(secrets.data?.items ?? []).map((s) => ({ value: s.id, label: s.name }))}
              />
            )}
          </div>
          <Switch label={active ? 'Active: offered to people' : 'Inactive: hidden from people'} checked={active} onChange={setActive} />
        </Card>
        <Card title="Recording and limits">
          <div className="stack-sm">
            <Checkbox label="Record sessions" hint="Screen output, kept as an asciicast recording and sealed in the audit trail." checked={record} onChange={setRecord} />
            <Checkbox label="Record keystrokes" hint="Makes typed commands searchable. Needs recording." checked={record && recordKeystrokes} onChange={setRecordKeystrokes} disabled={!record} />
            <Checkbox label="Allow port forwarding" hint="Local forwarding (ssh -L) for SSH sessions." checked={forwarding} onChange={setForwarding} disabled={protocol === 'rdp'} />
          </div>
          <div className="form-grid">
            <TextField label="Idle timeout (seconds)" type="number" min={0} max={604800} value={idle} onChange={(e) => setIdle(e.target.value)} hint={`0 = none. Now: ${seconds(num(idle))}.`} />
            <TextField label="Maximum duration (seconds)" type="number" min={0} max={604800} value={maxDur} onChange={(e) => setMaxDur(e.target.value)} hint={`0 = none. Now: ${seconds(num(maxDur))}.`} />
          </div>
        </Card>
        <Card title="Consent to recording" description="Shown before a recorded session starts in the browser; the person must agree or the session does not start.">
          <Field label="Consent text" hint="Leave empty for the standard notice.">
            <textarea className="input" rows={4} value={consentText} onChange={(e) => setConsentText(e.target.value)} maxLength={4000} placeholder="This session will be recorded: the screen output and your keystrokes are kept and may be reviewed by auditors. Continue only if you agree." />
          </Field>
        </Card>
        <Card title="Live view and shared control" description="Who besides the person may see or type into a running session. Every watch, join, leave and kick is audited.">
          <div className="stack-sm">
            <Switch label={sharing.allowLiveSnooping ? 'Live view: auditors may watch' : 'Live view: not allowed'} checked={sharing.allowLiveSnooping} onChange={(v) => setSharing({ ...sharing, allowLiveSnooping: v })} />
            <Switch label={sharing.allowJoinRequests ? 'Join requests: allowed (the person accepts or declines)' : 'Join requests: not allowed'} checked={sharing.allowJoinRequests} onChange={(v) => setSharing({ ...sharing, allowJoinRequests: v })} />
            <Switch label={sharing.allowJoinInvites ? 'Invitations: the person may invite others' : 'Invitations: not allowed'} checked={sharing.allowJoinInvites} onChange={(v) => setSharing({ ...sharing, allowJoinInvites: v })} />
          </div>
        </Card>
        {protocol === 'rdp' && (
          <Card title="Redirection" description="What the person's computer may share with the remote desktop. The .rdp file asks the client, and the gateway enforces it whatever the client does.">
            <div className="stack-sm">
              <Switch label={redirect.rdpClipboard ? 'Clipboard: allowed' : 'Clipboard: denied'} checked={redirect.rdpClipboard} onChange={(v) => setRedirect({ ...redirect, rdpClipboard: v })} />
              <Switch label={redirect.rdpDrives ? 'Drives: allowed' : 'Drives: denied'} checked={redirect.rdpDrives} onChange={(v) => setRedirect({ ...redirect, rdpDrives: v })} />
              <Switch label={redirect.rdpPrinters ? 'Printers: allowed' : 'Printers: denied'} checked={redirect.rdpPrinters} onChange={(v) => setRedirect({ ...redirect, rdpPrinters: v })} />
            </div>
          </Card>
        )}
        {protocol === 'telnet' && (
          <Card title="Telnet prompts" description="Regular expressions (case-insensitive) for the target's login dialogue. Leave empty for the defaults.">
            <div className="form-grid">
              <TextField label="Login prompt" className="mono" value={telnet.telnetLoginPrompt} onChange={(e) => setTelnet({ ...telnet, telnetLoginPrompt: e.target.value })} placeholder="login:\s*$" spellCheck={false} />
              <TextField label="Password prompt" value={telnet.telnetPasswordPrompt} onChange={(e) => setTelnet({ ...telnet, telnetPasswordPrompt: e.target.value })} placeholder="password:\s*$" spellCheck={false} />
              <TextField label="Failure pattern" value={telnet.telnetFailurePattern} onChange={(e) => setTelnet({ ...telnet, telnetFailurePattern: e.target.value })} placeholder="login incorrect" spellCheck={false} />
            </div>
          </Card>
        )}
      </ResourceForm>
    </div>
  );
}
