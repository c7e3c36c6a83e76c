// The signed-in person's own account: password, two-factor authentication (TOTP; security
// keys and passkeys in SecurityKeys.tsx), SSH keys.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api';
import { useAuth, useMe } from '../auth';
import { CardTable } from '../components/CardTable';
import { EditForm, SaveBar } from '../components/EditForm';
import { ListShell } from '../components/ListShell';
import { Badge, Button, Card, Empty, ErrorAlert, Field, InlineError, Loading, PageHeader, Reveal, TextField, useConfirm, useToast } from '../components/ui';
import { useSubmit } from '../editing';
import { RecoveryCodesList } from '../components/RecoveryCodes';
import { SecurityKeysCard } from './SecurityKeys';
import { dateTime, PERMISSION_LABELS, relative } from '../format';
import { useApi, useTitle } from '../hooks';
import type { Page, RecoveryCodes, SshKey, TotpEnrolment } from '../api-types';
import './Account.css';

export function Account() {
  useTitle('Account');
  const me = useMe();
  return (
    <div className="page page-narrow">
      <PageHeader title="Account and security" subtitle={`Signed in as ${me.username}`} />
      <Profile />
      <PasswordCard />
      <TotpCard />
      <SecurityKeysCard />
      <SshKeysCard />
    </div>
  );
}

function Profile() {
  const me = useMe();
  return (
    <Card title="Profile">
      <dl className="facts">
        <dt>Name</dt>
        <dd>{me.displayName || me.username}</dd>
        <dt>Username</dt>
        <dd className="mono">{me.username}</dd>
        {me.email && (
          <>
            <dt>Email</dt>
            <dd>{me.email}</dd>
          </>
        )}
        <dt>Roles</dt>
        <dd>{me.roles.length ? me.roles.map((r) => <Badge key={r.id}>{r.name}</Badge>) : <span className="muted">none</span>}</dd>
        <dt>Groups</dt>
        <dd>{me.groups.length ? me.groups.map((g) => <Badge key={g.id}>{g.name}</Badge>) : <span className="muted">none</span>}</dd>
        <dt>Permissions</dt>
        <dd>{me.permissions.length ? me.permissions.map((p) => <Badge key={p} tone="blue">{PERMISSION_LABELS[p] ?? p}</Badge>) : <span className="muted">none</span>}</dd>
        <dt>Last sign-in</dt>
        <dd>{relative(me.lastLoginAt)}</dd>
      </dl>
    </Card>
  );
}

function PasswordCard() {
  const toast = useToast();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const { busy, error, setError, run } = useSubmit();
  const mismatch = again !== '' && next !== again;
  const submit = () => {
    if (next !== again) return setError('The two new passwords are not the same.');
    void run(async () => {
      await api.post('/me/password', { currentPassword: current, newPassword: next });
      setCurrent('');
      setNext('');
      setAgain('');
      toast('Password changed. Your other browser sessions were signed out.');
    });
  };
  return (
    <Card title="Password" description="Changing it signs out your other sessions.">
      <EditForm className="narrow-form" onSave={submit} error={error} busy={busy} canSave={!(!current || !next || !again || mismatch)} saveLabel="Change password" sticky={false}>
        <TextField label="Current password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
        <TextField label="New password" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required />
        <TextField label="New password again" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} required error={mismatch ? 'Does not match the new password.' : undefined} />
      </EditForm>
    </Card>
  );
}

function TotpCard() {
  const me = useMe();
  const { refresh } = useAuth();
  const toast = useToast();
  const confirm = useConfirm();
  const [enrol, setEnrol] = useState<{ secret: string; otpauthUrl: string } | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const { busy, error, run } = useSubmit();

  useEffect(() => {
    if (!enrol) return setQr(null);
    // The QR encoder loads only when someone enrols.
    import('qrcode')
      .then((m) => ((m as unknown as { default?: typeof m }).default ?? m).toDataURL(enrol.otpauthUrl, { margin: 1, width: 200, errorCorrectionLevel: 'M' }))
      .then(setQr)
      .catch(() => setQr(null));
  }, [enrol]);

  const start = () => run(async () => setEnrol(await api.post<TotpEnrolment>('/me/totp')));
  const finish = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      const r = await api.post<RecoveryCodes>('/me/totp/confirm', { code: code.replace(/\s+/g, '') });
      setCodes(r.recoveryCodes);
      setEnrol(null);
      setCode('');
      await refresh();
    });
  };
  const disable = async () => {
    const ok = await confirm({
      title: 'Turn off two-factor authentication?',
      body: 'Signing in will need only your password. Your recovery codes stop working.',
      input: { label: 'Your password', required: true },
      confirmLabel: 'Turn off',
      danger: true,
      action: (password) => api.post('/me/totp/disable', { password }),
    });
    if (ok !== null) {
      await refresh();
      toast('Two-factor authentication is off');
    }
  };

  return (
    <Card
      title={
        <>
          Two-factor authentication {me.totpEnabled ? <Badge tone="green">On</Badge> : <Badge tone="amber">Off</Badge>}
        </>
      }
      description="A code from an authenticator app (TOTP) in addition to your password, for the portal and the SSH door."
    >
      {codes && <RecoveryCodesList codes={codes} username={me.username} title="Two-factor authentication is on" onDone={() => setCodes(null)} />}
      {!codes && me.totpEnabled && (
        <div className="row-between">
          <p>Your account asks for a code at every sign-in.</p>
          <Button variant="danger" onClick={() => void disable()}>
            Turn off
          </Button>
        </div>
      )}
      {!codes && !me.totpEnabled && !enrol && (
        <div className="stack">
          <ErrorAlert error={error} />
          <div className="row-between">
            <p>Protect your account with a second factor.</p>
            <Button variant="primary" busy={busy} onClick={() => void start()}>
              Set up
            </Button>
          </div>
        </div>
      )}
      {!codes && enrol && (
        <form className="totp-enrol" onSubmit={finish}>
          <div className="totp-qr">{qr ? <img src={qr} alt="QR code for your authenticator app" width={200} height={200} /> : <Loading label="Drawing QR code…" />}</div>
          <div className="stack">
            <p>
              <strong>1.</strong> Scan the QR code with your authenticator app, or type this key into it:
            </p>
            <Reveal label="Setup key" value={enrol.secret} />
            <p>
              <strong>2.</strong> Enter the 6-digit code the app shows.
            </p>
            <Field label="Code" htmlFor="totp-code">
              <input id="totp-code" className="input input-code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9 ]*" maxLength={7} value={code} onChange={(e) => setCode(e.target.value)} autoFocus />
            </Field>
            <InlineError error={error} />
            <SaveBar sticky={false} onCancel={() => setEnrol(null)} busy={busy} canSave={code.replace(/\s+/g, '').length === 6} saveLabel="Turn on" />
          </div>
        </form>
      )}
    </Card>
  );
}

function SshKeysCard() {
  const me = useMe();
  const keys = useApi<Page<SshKey>>('/me/ssh-keys?limit=500');
  const toast = useToast();
  const confirm = useConfirm();
  const [adding, setAdding] = useState(false);
  const [name, setName] = useState('');
  const [publicKey, setPublicKey] = useState('');
  const { busy, error, setError, run } = useSubmit();

  const add = () =>
    run(async () => {
      await api.post('/me/ssh-keys', { name: name.trim(), publicKey: publicKey.trim() });
      setName('');
      setPublicKey('');
      setAdding(false);
      keys.reload();
      toast('SSH key added');
    });
  const remove = async (k: SshKey) => {
    const ok = await confirm({ title: `Remove the key “${k.name}”?`, body: 'It will no longer sign you in at the SSH door.', confirmLabel: 'Remove', danger: true, action: () => api.del(`/me/ssh-keys/${k.id}`) });
    if (ok !== null) {
      keys.reload();
      toast('SSH key removed');
    }
  };
  const onFile = async (f: File | undefined) => {
    if (!f) return;
    const text = (await f.text()).trim();
    setPublicKey(text);
    if (!name) setName(text.split(/\s+/)[2] ?? f.name.replace(/\.pub$/, ''));
  };

  return (
    <Card
      title="SSH public keys"
      description={
        <>
          Sign in at the SSH door without a password: <code>ssh -p &lt;port&gt; '{me.username}:&lt;secret name&gt;@{location.hostname}'</code>.
        </>
      }
      actions={
        !adding && (
          <Button icon="plus" onClick={() => setAdding(true)}>
            Add key
          </Button>
        )
      }
    >
      <ErrorAlert error={keys.error} />
      {adding && (
        <EditForm
          className="add-key"
          onSave={() => void add()}
          error={error}
          busy={busy}
          canSave={!!name.trim() && !!publicKey.trim()}
          saveLabel="Add key"
          sticky={false}
          onCancel={() => {
            setAdding(false);
            setError(null);
          }}
        >
          <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. work laptop" maxLength={100} required autoFocus />
          <Field label="Public key" htmlFor="pubkey" hint={<>The contents of your <code>.pub</code> file, e.g. <code>~/.ssh/id_ed25519.pub</code>. Never the private key.</>}>
            <textarea id="pubkey" className="input mono" rows={3} value={publicKey} onChange={(e) => setPublicKey(e.target.value)} placeholder="ssh-ed25519 AAAAC3… you@laptop" spellCheck={false} required />
          </Field>
          <label className="file-pick">
            <input type="file" accept=".pub,text/plain" onChange={(e) => void onFile(e.target.files?.[0])} /> or choose a .pub file
          </label>
        </EditForm>
      )}
      <ListShell
        error={null}
        loading={keys.loading && !keys.data}
        isEmpty={!!keys.data && keys.data.items.length === 0}
        empty={
          !adding && (
            <Empty icon="key" title="No SSH keys">
              Add a public key to sign in at the SSH door without typing your password.
            </Empty>
          )
        }
      >
        <CardTable
          wrap={false}
          rows={keys.data?.items}
          rowKey={(k) => k.id}
          columns={[
            {
              label: 'Name',
              cell: (k) => (
                <>
                  <div className="cell-title">{k.name}</div>
                  <div className="cell-sub">{k.keyType}</div>
                </>
              ),
            },
            { label: 'Fingerprint', className: 'mono small break', cell: (k) => k.fingerprint },
            { label: 'Added', cell: (k) => dateTime(k.createdAt) },
            {
              label: 'Actions',
              actions: true,
              hideHeader: true,
              cell: (k) => (
                <Button small variant="ghost" icon="trash" onClick={() => void remove(k)}>
                  Remove
                </Button>
              ),
            },
          ]}
        />
      </ListShell>
    </Card>
  );
}
