// The LDAP / Active Directory directory, for administrators (docs/identity.md): its settings
// (edited as JSON: the bind password is a vault secret reference, never typed here), Test
// connection, Sync now, and the last sync's outcome.
import { useEffect, useState } from 'react';
import { api } from '../../api';
import { Alert, Button, Card, ErrorAlert, Field, Loading, PageHeader, useToast } from '../../components/ui';
import { useSubmit } from '../../editing';
import { useApi, useTitle } from '../../hooks';
import type { LdapStatus, LdapSync, LdapTest } from '../../api-types';

const names = (a: string[]) => (a.length ? a.join(', ') : '—');

function SyncSummary({ r }: { r: LdapSync }) {
  if (!r.ok) return <Alert title={`Sync failed (${new Date(r.at).toLocaleString()})`}>{r.error}</Alert>;
  return (
    <Alert kind="success" title={`Synced ${r.users} directory users (${new Date(r.at).toLocaleString()})`}>
      Created: {names(r.created)}. Disabled: {names(r.disabled)}. Enabled again: {names(r.enabled)}. Group membership changes: {r.groupChanges}. Sessions terminated: {r.terminatedSessions}.
      {r.conflicts.length > 0 && <> Left alone (local accounts of the same name): {names(r.conflicts)}.</>}
      {r.unknownGroups.length > 0 && <> Mapped groups that do not exist: {names(r.unknownGroups)}.</>}
    </Alert>
  );
}

export function LdapDirectory() {
  useTitle('LDAP directory');
  const toast = useToast();
  const status = useApi<LdapStatus>('/directory/ldap');
  const [text, setText] = useState('');
  const [test, setTest] = useState<LdapTest | null>(null);
  const [sync, setSync] = useState<LdapSync | null>(null);
  const saving = useSubmit();
  const testing = useSubmit();
  const syncing = useSubmit();

  useEffect(() => {
    if (status.data) setText(JSON.stringify(status.data.config, null, 2));
  }, [status.data]);

  const save = () => {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      saving.setError(new Error('The settings are not valid JSON.'));
      return;
    }
    void saving.run(async () => {
      const saved = await api.put<LdapStatus>('/directory/ldap', body);
      status.setData(() => saved);
      toast('Directory settings saved');
    });
  };

  if (status.error) return <ErrorAlert error={status.error} />;
  if (!status.data) return <Loading />;
  const last = sync ?? status.data.lastSync;
  return (
    <>
      <PageHeader title="LDAP / Active Directory" subtitle="Directory users sign in with their directory password; users and groups are synced on a schedule (setting ldapSyncMinutes) and on demand." />
      <Card
        title="Settings"
        description="bindSecretId names the vault secret holding the service account's password (its bindSecretField). docs/identity.md lists every field and the Active Directory values."
        actions={<Button variant="primary" busy={saving.busy} onClick={save}>Save</Button>}
      >
        {saving.error ? <ErrorAlert error={saving.error} onClose={() => saving.setError(null)} /> : null}
        <Field label="Settings (JSON)" htmlFor="ldap-config">
          <textarea id="ldap-config" rows={24} spellCheck={false} style={{ width: '100%', fontFamily: 'monospace' }} value={text} onChange={(e) => setText(e.target.value)} />
        </Field>
      </Card>
      <Card
        title="Directory"
        actions={
          <>
            <Button busy={testing.busy} onClick={() => void testing.run(async () => setTest(await api.post<LdapTest>('/directory/ldap/test')))}>Test connection</Button>
            <Button busy={syncing.busy} onClick={() => void syncing.run(async () => setSync(await api.post<LdapSync>('/directory/ldap/sync')))}>Sync now</Button>
          </>
        }
      >
        {testing.error ? <ErrorAlert error={testing.error} /> : null}
        {syncing.error ? <ErrorAlert error={syncing.error} /> : null}
        {test && (test.ok ? <Alert kind="success" title="Connected">{test.message}: {test.users} users, {test.groups} groups.</Alert> : <Alert title="Connection failed">{test.message}</Alert>)}
        {last ? <SyncSummary r={last} /> : <p>No sync yet.</p>}
      </Card>
    </>
  );
}
