// The signed-in person's passkeys and security keys (Account page): add one under a name (the
// browser asks the authenticator), list them, remove one. The first key of someone without
// recovery codes comes with ten, shown once. Keys work as the second factor after the
// password, for step-up, and — when an administrator allows it — to sign in alone.
import { useState } from 'react';
import { api } from '../api';
import { useMe } from '../auth';
import { CardTable } from '../components/CardTable';
import { EditForm } from '../components/EditForm';
import { ListShell } from '../components/ListShell';
import { RecoveryCodesList } from '../components/RecoveryCodes';
import { Alert, Badge, Button, Card, Empty, ErrorAlert, TextField, useConfirm, useToast } from '../components/ui';
import { useSubmit } from '../editing';
import { dateTime, relative } from '../format';
import { useApi } from '../hooks';
import type { SecurityKey, SecurityKeyPage } from '../api-types';
import { keyErrorText, keysSupported, registerKey } from '../webauthn';

export function SecurityKeysCard() {
  const me = useMe();
  const keys = useApi<SecurityKeyPage>('/me/webauthn?limit=500');
  const toast = useToast();
  const confirm = useConfirm();
  const [adding, setAdding] = useState(false);
  const [name, setName] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const { busy, error, setError, run } = useSubmit();
  const supported = keysSupported();

  const add = () =>
    run(async () => {
      try {
        const r = await registerKey(name.trim());
        setCodes(r.recoveryCodes);
      } catch (e) {
        const text = keyErrorText(e);
        if (text) throw new Error(text);
        throw e;
      }
      setName('');
      setAdding(false);
      keys.reload();
      toast('Security key added');
    });
  const remove = async (k: SecurityKey) => {
    const ok = await confirm({ title: `Remove the key “${k.name}”?`, body: 'It will no longer sign you in or verify launches.', confirmLabel: 'Remove', danger: true, action: () => api.del(`/me/webauthn/${k.id}`) });
    if (ok !== null) {
      keys.reload();
      toast('Security key removed');
    }
  };

  return (
    <Card
      title="Security keys and passkeys"
      description="A hardware security key or a passkey on this device as your second factor: at sign-in after your password, and when a launch asks you to verify it is you."
      actions={
        !adding &&
        !codes &&
        supported && (
          <Button icon="plus" onClick={() => setAdding(true)}>
            Add security key
          </Button>
        )
      }
    >
      {!supported && <Alert kind="warning">This browser cannot use security keys or passkeys.</Alert>}
      <ErrorAlert error={keys.error} />
      {codes && <RecoveryCodesList codes={codes} username={me.username} title="Your security key is registered" onDone={() => setCodes(null)} />}
      {adding && (
        <EditForm
          className="add-key"
          onSave={() => void add()}
          error={error}
          busy={busy}
          canSave={!!name.trim()}
          saveLabel="Register key"
          sticky={false}
          onCancel={() => {
            setAdding(false);
            setError(null);
          }}
        >
          <TextField label="Key name" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. YubiKey on my keyring" maxLength={64} required autoFocus hint="Your browser then asks you to touch or unlock the key." />
        </EditForm>
      )}
      <ListShell
        error={null}
        loading={keys.loading && !keys.data}
        isEmpty={!!keys.data && keys.data.items.length === 0}
        empty={
          !adding && (
            <Empty icon="key" title="No security keys">
              Add a security key or passkey for a phishing-resistant second factor.
            </Empty>
          )
        }
      >
        <CardTable
          wrap={false}
          className="security-keys"
          rows={keys.data?.items}
          rowKey={(k) => k.id}
          columns={[
            {
              label: 'Name',
              cell: (k) => (
                <>
                  <div className="cell-title">{k.name}</div>
                  <div className="cell-sub">
                    {k.discoverable ? <Badge tone="blue">Passkey</Badge> : <Badge>Security key</Badge>} {k.deviceType === 'multiDevice' ? 'synced' : 'this device only'}
                  </div>
                </>
              ),
            },
            { label: 'Added', cell: (k) => dateTime(k.createdAt) },
            { label: 'Last used', cell: (k) => (k.lastUsedAt ? relative(k.lastUsedAt) : 'never') },
            {
              label: 'Actions',
              actions: true,
              hideHeader: true,
              cell: (k) => (
                <Button small variant="ghost" icon="trash" onClick={() => void remove(k)} aria-label={`Remove ${k.name}`}>
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
