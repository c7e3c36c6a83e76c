// Personal credentials: the person's master password (set, Unlock for this browser session,
// lock, change, reset when forgotten) and their own accounts for targets. Secret values are
// typed in and never shown again; a wrong master password keeps the prompt open (re-prompt).
import { useState } from 'react';
import { api, ApiError, errorText } from '../api';
import { CardTable } from '../components/CardTable';
import { EditForm } from '../components/EditForm';
import { ListShell } from '../components/ListShell';
import { Alert, Badge, Button, Card, CopyButton, copyText, Empty, ErrorAlert, PageHeader, SelectField, TextField, useConfirm, useToast } from '../components/ui';
import { useSubmit } from '../editing';
import { dateTime } from '../format';
import { useApi, useTitle } from '../hooks';
import { downloadUrl } from '../launch';
import type { LaunchResponse, Page, PersonalCredential, Secret, VaultStatus } from '../api-types';

const RESET_CONFIRMATION = 'delete my personal credentials';

export function Personal() {
  useTitle('Personal credentials');
  const status = useApi<VaultStatus>('/me/master-password');
  const s = status.data;
  return (
    <div className="page page-narrow">
      <PageHeader title="Personal credentials" subtitle="Your own accounts for targets, locked under your master password. Nobody else, not even an administrator, can read them." />
      <ErrorAlert error={status.error} />
      {s && !s.set && <SetMaster onDone={status.reload} />}
      {s?.set && !s.unlocked && <UnlockCard onDone={status.reload} />}
      {s?.set && s.unlocked && <UnlockedCard status={s} onChange={status.reload} />}
      {s?.set && <Credentials unlocked={s.unlocked} />}
      {s?.set && <ResetCard onDone={status.reload} />}
    </div>
  );
}

function SetMaster({ onDone }: { onDone(): void }) {
  const [pw, setPw] = useState('');
  const [again, setAgain] = useState('');
  const { busy, error, run } = useSubmit();
  const mismatch = again !== '' && pw !== again;
  return (
    <Card title="Set a master password" description="It is separate from your sign-in password and unlocks your personal credentials. If you forget it, they are lost: nobody can recover them.">
      <EditForm className="narrow-form" sticky={false} error={error} busy={busy} canSave={!!pw && pw === again} saveLabel="Set master password" onSave={() => void run(async () => (await api.put('/me/master-password', { masterPassword: pw }), onDone()))}>
        <TextField label="Master password" type="password" autoComplete="new-password" value={pw} onChange={(e) => setPw(e.target.value)} required />
        <TextField label="Master password again" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} required error={mismatch ? 'Does not match.' : undefined} />
      </EditForm>
    </Card>
  );
}

/** The Unlock prompt: a wrong master password (401) is shown and the prompt stays for another try. */
function UnlockCard({ onDone }: { onDone(): void }) {
  const [pw, setPw] = useState('');
  const { busy, error, run } = useSubmit();
  const unlock = () =>
    run(async () => {
      try {
        // A 401 here is a wrong master password, not an expired sign-in.
        await api.post('/me/master-password/unlock', { masterPassword: pw }, { anonymous: true });
        onDone();
      } finally {
        setPw('');
      }
    });
  const wrong = error instanceof ApiError && error.code === 'invalid_master_password';
  return (
    <Card title={<>Unlock <Badge tone="amber">Locked</Badge></>} description="Enter your master password once for this browser session.">
      <EditForm className="narrow-form" sticky={false} error={wrong ? null : error} busy={busy} canSave={!!pw} saveLabel="Unlock" onSave={() => void unlock()}>
        {wrong && <Alert kind="error">Invalid Master Password. Enter it again.</Alert>}
        <TextField label="Master password" type="password" autoComplete="current-password" value={pw} onChange={(e) => setPw(e.target.value)} required autoFocus />
      </EditForm>
    </Card>
  );
}

function UnlockedCard({ status, onChange }: { status: VaultStatus; onChange(): void }) {
  const toast = useToast();
  const [changing, setChanging] = useState(false);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const { busy, error, run } = useSubmit();
  const lock = () => run(async () => (await api.post('/me/master-password/lock'), onChange()));
  const change = () =>
    run(async () => {
      await api.put('/me/master-password', { masterPassword: next, currentMasterPassword: current }, { anonymous: true });
      setChanging(false);
      setCurrent('');
      setNext('');
      toast('Master password changed');
    });
  return (
    <Card
      title={<>Master password <Badge tone="green">Unlocked</Badge></>}
      description={`Unlocked for this browser session; it locks after ${Math.round(status.idleTimeoutSeconds / 60)} minutes without use.`}
      actions={
        <>
          {!changing && <Button onClick={() => setChanging(true)}>Change</Button>}
          <Button icon="lock" onClick={() => void lock()}>
            Lock
          </Button>
        </>
      }
    >
      {changing && (
        <EditForm className="narrow-form" sticky={false} error={error} busy={busy} canSave={!!current && !!next} saveLabel="Change master password" onCancel={() => setChanging(false)} onSave={() => void change()}>
          <TextField label="Current master password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
          <TextField label="New master password" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required />
        </EditForm>
      )}
      {!changing && <ErrorAlert error={error} />}
    </Card>
  );
}

function Credentials({ unlocked }: { unlocked: boolean }) {
  const list = useApi<Page<PersonalCredential>>('/me/personal-credentials?limit=500');
  const secrets = useApi<Page<Secret>>('/secrets?limit=500');
  const toast = useToast();
  const confirm = useConfirm();
  const [adding, setAdding] = useState(false);
  const [form, setForm] = useState({ name: '', secretId: '', machine: '', username: '', password: '' });
  const { busy, error, setError, run } = useSubmit();
  const set = (k: keyof typeof form) => (v: string) => setForm((f) => ({ ...f, [k]: v }));
  const add = () =>
    run(async () => {
      await api.post('/me/personal-credentials', {
        name: form.name.trim(),
        target: form.secretId ? { secretId: form.secretId } : { machine: form.machine.trim() },
        username: form.username.trim(),
        password: form.password,
      });
      setForm({ name: '', secretId: '', machine: '', username: '', password: '' });
      setAdding(false);
      list.reload();
      toast('Personal credential stored');
    });
  const remove = async (c: PersonalCredential) => {
    const ok = await confirm({ title: `Delete “${c.name}”?`, body: 'The account stays on the target; only your stored copy is deleted.', confirmLabel: 'Delete', danger: true, action: () => api.del(`/me/personal-credentials/${c.id}`) });
    if (ok !== null) {
      list.reload();
      toast('Personal credential deleted');
    }
  };
  const secretName = (id: string | null) => secrets.data?.items.find((s) => s.id === id)?.name ?? id;
  // The secrets a credential fits: its target secret, or those on its machine.
  const targetsOf = (c: PersonalCredential): Secret[] =>
    (secrets.data?.items ?? []).filter((s) => (c.target.secretId ? s.id === c.target.secretId : !!s.machine && s.machine.toLowerCase() === c.target.machine?.toLowerCase()));
  const [launched, setLaunched] = useState<{ id: string; command?: string; error?: string } | null>(null);
  /** Launches a secret with this credential instead of its shared one: the ssh command (copied), or the .rdp file. */
  const open = async (c: PersonalCredential, s: Secret) => {
    setLaunched(null);
    try {
      const r = await api.post<LaunchResponse>(`/secrets/${encodeURIComponent(s.id)}/launch`, { launcher: c.target.protocol === 'rdp' ? 'rdp' : 'ssh', personalCredentialId: c.id });
      if (r.rdpFile) {
        downloadUrl(r.rdpFile);
        toast('Remote Desktop file downloaded; open it to connect');
      } else if (r.ssh) {
        setLaunched({ id: c.id, command: r.ssh.command });
        if (await copyText(r.ssh.command)) toast('SSH command copied to the clipboard');
      }
    } catch (e) {
      setLaunched({ id: c.id, error: errorText(e) });
    }
  };
  return (
    <Card
      title="Your credentials"
      description="Launch a secret with one of these instead of its shared credential (while unlocked)."
      actions={
        !adding &&
        unlocked && (
          <Button icon="plus" onClick={() => setAdding(true)}>
            Add
          </Button>
        )
      }
    >
      {adding && (
        <EditForm
          className="narrow-form"
          sticky={false}
          error={error}
          busy={busy}
          canSave={!!form.name.trim() && !!form.username.trim() && !!form.password && (!!form.secretId || !!form.machine.trim())}
          saveLabel="Store"
          onCancel={() => {
            setAdding(false);
            setError(null);
          }}
          onSave={() => void add()}
        >
          <TextField label="Name" value={form.name} onChange={(e) => set('name')(e.target.value)} placeholder="e.g. my DBA account" maxLength={200} required autoFocus />
          <SelectField label="For the secret" none="— a machine instead —" value={form.secretId} onChange={set('secretId')} options={(secrets.data?.items ?? []).map((s) => ({ value: s.id, label: s.name }))} />
          {!form.secretId && <TextField label="Machine" value={form.machine} onChange={(e) => set('machine')(e.target.value)} placeholder="host name or address" maxLength={253} />}
          <TextField label="Username" value={form.username} onChange={(e) => set('username')(e.target.value)} maxLength={256} required />
          <TextField label="Password" type="password" autoComplete="new-password" value={form.password} onChange={(e) => set('password')(e.target.value)} required />
        </EditForm>
      )}
      <ListShell
        resource={list}
        isEmpty={!!list.data && list.data.items.length === 0}
        empty={!adding && <Empty icon="key" title="No personal credentials">{unlocked ? 'Add one of your own accounts for a target.' : 'Unlock to add one.'}</Empty>}
      >
        <CardTable
          wrap={false}
          rows={list.data?.items}
          detail={(c) =>
            launched?.id === c.id &&
            (launched.error ? (
              <Alert kind="error">{launched.error}</Alert>
            ) : (
              <div className="command-line">
                <code>{launched.command}</code>
                <CopyButton text={launched.command ?? ''} />
              </div>
            ))
          }
          columns={[
            {
              label: 'Name',
              cell: (c) => (
                <>
                  <div className="cell-title">{c.name}</div>
                  <div className="cell-sub">{c.target.secretId ? `secret ${secretName(c.target.secretId)}` : `${c.target.machine}${c.target.port ? `:${c.target.port}` : ''}`}</div>
                </>
              ),
            },
            { label: 'Username', className: 'mono', cell: (c) => (c.domain ? `${c.domain}\\${c.username}` : c.username) },
            { label: 'Stored', cell: (c) => c.secretFields.join(', ') },
            { label: 'Changed', cell: (c) => dateTime(c.updatedAt) },
            {
              label: 'Actions',
              actions: true,
              hideHeader: true,
              cell: (c) => (
                <>
                  {unlocked &&
                    targetsOf(c).map((s) => (
                      <Button key={s.id} small variant="ghost" onClick={() => void open(c, s)}>
                        Launch {s.name}
                      </Button>
                    ))}
                  <Button small variant="ghost" icon="trash" onClick={() => void remove(c)}>
                    Delete
                  </Button>
                </>
              ),
            },
          ]}
        />
      </ListShell>
    </Card>
  );
}

function ResetCard({ onDone }: { onDone(): void }) {
  const confirm = useConfirm();
  const toast = useToast();
  const reset = async () => {
    const ok = await confirm({
      title: 'Forgot your master password?',
      body: `Resetting deletes all your personal credentials for good; nobody can recover them. Type “${RESET_CONFIRMATION}” to go on.`,
      input: { label: 'Confirmation', required: true },
      confirmLabel: 'Delete and reset',
      danger: true,
      action: (text) => api.post('/me/master-password/reset', { confirm: text }),
    });
    if (ok !== null) {
      toast('Personal credentials deleted; set a new master password');
      onDone();
    }
  };
  return (
    <Card title="Forgotten master password">
      <div className="row-between">
        <p>Without it your personal credentials cannot be opened. A reset deletes them so you can start again.</p>
        <Button variant="danger" onClick={() => void reset()}>
          Reset…
        </Button>
      </div>
    </Card>
  );
}
