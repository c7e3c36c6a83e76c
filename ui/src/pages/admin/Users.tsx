// Users and application accounts: list with search, create, edit, enable/disable, unlock,
// reset two-factor, client credentials.
import { useEffect, useState } from 'react';
import { api, qs } from '../../api';
import { useMe } from '../../auth';
import { CardTable } from '../../components/CardTable';
import { ActionItem, BackLink, CheckGrid, DeleteButton, Pending, ResourceForm } from '../../components/EditForm';
import { ListShell, NewLink } from '../../components/ListShell';
import { Alert, Badge, Button, Card, Checkbox, Empty, Modal, PageHeader, Pager, Reveal, SearchBox, Switch, TextField, useConfirm, useToast } from '../../components/ui';
import { useEditor } from '../../editing';
import { relative } from '../../format';
import { useApi, useSearchQuery, useTitle } from '../../hooks';
import { Link, setQuery, useLocation } from '../../router';
import type { ClientCredentials, Group, Page, Role, SecurityKeyPage, User } from '../../api-types';

const LIMIT = 50;

export function Users() {
  useTitle('Users');
  const { query } = useLocation();
  const { search, setSearch, q } = useSearchQuery(250);
  const offset = Number(query.get('offset') ?? 0) || 0;
  const users = useApi<Page<User>>(`/users${qs({ search: q, limit: LIMIT, offset })}`);

  return (
    <div className="page">
      <PageHeader title="Users" subtitle="People who sign in, and application accounts that use the API." actions={<NewLink to="/admin/users/new">New user</NewLink>} />
      <div className="toolbar">
        <SearchBox value={search} onChange={setSearch} placeholder="Search by username or name" />
      </div>
      <ListShell
        resource={users}
        isEmpty={!!users.data && users.data.items.length === 0}
        empty={
          <Empty icon="user" title={q ? 'No matches' : 'No users'}>
            {q ? `No user matches “${q}”.` : 'Create the first user.'}
          </Empty>
        }
      >
        <CardTable
          rows={users.data?.items}
          href={(u) => `/admin/users/${u.id}`}
          columns={[
            { label: 'User', title: (u) => u.username, cell: (u) => u.displayName && u.displayName !== u.username && <div className="cell-sub">{u.displayName}</div> },
            { label: 'Kind', cell: (u) => (u.isApplication ? <Badge tone="violet">Application</Badge> : 'Person') },
            { label: 'Roles', cell: (u) => u.roles.map((r) => r.name).join(', ') || <span className="muted">—</span> },
            { label: 'Groups', cell: (u) => u.groups.map((g) => g.name).join(', ') || <span className="muted">—</span> },
            { label: 'Status', cell: (u) => <UserStatus u={u} /> },
            { label: 'Last sign-in', className: 'nowrap', cell: (u) => relative(u.lastLoginAt) },
          ]}
        />
        {users.data && <Pager offset={offset} limit={LIMIT} total={users.data.total} onChange={(o) => setQuery({ offset: o || null })} noun="user" />}
      </ListShell>
    </div>
  );
}

function UserStatus({ u }: { u: User }) {
  return (
    <span className="badges">
      {u.enabled ? <Badge tone="green">Enabled</Badge> : <Badge tone="red">Disabled</Badge>}
      {u.locked && <Badge tone="amber">Locked</Badge>}
      {u.totpEnabled && <Badge tone="blue">2FA</Badge>}
    </span>
  );
}

export function UserEdit({ id }: { id: string }) {
  const me = useMe();
  const toast = useToast();
  const confirm = useConfirm();
  const editor = useEditor<User>({ collection: '/users', id, route: '/admin/users', created: (u) => `User ${u.username} created` });
  const { isNew, item: user, setError } = editor;
  const roles = useApi<Page<Role>>('/roles?limit=500');
  const groups = useApi<Page<Group>>('/groups?limit=500');
  const keys = useApi<SecurityKeyPage>(isNew ? null : `/users/${id}/webauthn?limit=500`);
  useTitle(isNew ? 'New user' : (user.data?.username ?? 'User'));

  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [isApplication, setIsApplication] = useState(false);
  const [enabled, setEnabled] = useState(true);
  const [roleIds, setRoleIds] = useState<string[]>(['user']);
  const [groupIds, setGroupIds] = useState<string[]>([]);
  const [creds, setCreds] = useState<{ clientId: string; clientSecret: string } | null>(null);

  useEffect(() => {
    const u = user.data;
    if (!u) return;
    setUsername(u.username);
    setDisplayName(u.displayName);
    setEmail(u.email ?? '');
    setIsApplication(u.isApplication);
    setEnabled(u.enabled);
    setRoleIds(u.roles.map((r) => r.id));
    setGroupIds(u.groups.map((g) => g.id));
    setPassword('');
  }, [user.data]);

  const save = () => {
    const body: Record<string, unknown> = {
      displayName: displayName.trim() || username.trim(),
      email: email.trim() || null,
      isApplication,
      enabled,
      roles: roleIds,
      groups: groupIds,
    };
    if (password) body.password = password;
    void editor.save(body, { username: username.trim(), ...body });
  };

  const act = async (label: string, fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      toast(label);
      user.reload();
    } catch (e) {
      setError(e);
    }
  };

  const u = user.data;
  if (!isNew && !u) return <Pending resource={user} />;
  const self = u?.id === me.id;

  return (
    <div className="page page-narrow">
      <PageHeader back={<BackLink to="/admin/users">Users</BackLink>} title={isNew ? 'New user' : u!.username} subtitle={u && <UserStatus u={u} />} />
      <ResourceForm editor={editor} noun="user" onSave={save} canSave={!!username.trim()}>
        <Card title="Account">
          <div className="form-grid">
            <TextField label="Username" value={username} onChange={(e) => setUsername(e.target.value)} disabled={!isNew} required autoFocus={isNew} autoCapitalize="none" spellCheck={false} hint={isNew ? 'Letters, digits, . _ @ - ; cannot be changed later.' : undefined} />
            <TextField label="Display name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} placeholder={username} />
            <TextField label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} placeholder="optional" />
            <TextField
              label={isNew ? 'Password' : 'New password'}
              type="password"
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              hint={isApplication ? 'Application accounts usually sign in with client credentials instead.' : isNew ? 'The person can change it under Account.' : 'Leave empty to keep the current password.'}
            />
          </div>
          <div className="stack-sm">
            <Checkbox label="Application account" hint="API-only (gateways, integrations): cannot use the portal or the SSH door; authenticates with OAuth2 client credentials." checked={isApplication} onChange={setIsApplication} disabled={!isNew} />
            <Switch label={enabled ? 'Enabled: can sign in' : 'Disabled: cannot sign in'} checked={enabled} onChange={setEnabled} disabled={self} />
          </div>
        </Card>
        <Card title="Roles" description="Permissions from all roles, direct and through groups, add up.">
          <CheckGrid items={roles.data?.items} value={roleIds} onChange={setRoleIds} label={(r) => r.name} hint={(r) => r.description} />
        </Card>
        <Card title="Groups">
          {groups.data?.items.length === 0 ? (
            <p className="muted">
              No groups yet. <Link to="/admin/groups/new">Create a group</Link>.
            </p>
          ) : (
            <CheckGrid items={groups.data?.items} value={groupIds} onChange={setGroupIds} label={(g) => g.name} hint={(g) => g.description || undefined} />
          )}
        </Card>
      </ResourceForm>

      {u && (
        <Card title="Actions">
          <div className="action-list">
            {u.locked && (
              <ActionItem title="Unlock" action={<Button onClick={() => void act('Account unlocked', () => api.post(`/users/${u.id}/unlock`))}>Unlock</Button>}>
                The account is locked after too many failed sign-ins.
              </ActionItem>
            )}
            {u.totpEnabled && (
              <ActionItem
                title="Reset two-factor authentication"
                action={
                  <Button
                    onClick={async () => {
                      const ok = await confirm({ title: `Reset two-factor authentication for ${u.username}?`, body: 'Their authenticator and recovery codes stop working.', confirmLabel: 'Reset', danger: true, action: () => api.post(`/users/${u.id}/totp/reset`) });
                      if (ok !== null) {
                        toast('Two-factor authentication reset');
                        user.reload();
                      }
                    }}
                  >
                    Reset
                  </Button>
                }
              >
                For a lost authenticator: the user signs in with the password only and can enrol again.
              </ActionItem>
            )}
            {(keys.data?.total ?? 0) > 0 && (
              <ActionItem
                title="Reset security keys"
                action={
                  <Button
                    onClick={async () => {
                      const names = keys.data!.items.map((k) => k.name).join(', ');
                      const ok = await confirm({ title: `Remove every security key of ${u.username}?`, body: `Their keys and passkeys (${names}) stop working; they can register new ones after signing in.`, confirmLabel: 'Remove keys', danger: true, action: () => api.post(`/users/${u.id}/webauthn/reset`) });
                      if (ok !== null) {
                        toast('Security keys reset');
                        keys.reload();
                      }
                    }}
                  >
                    Reset keys
                  </Button>
                }
              >
                For a lost security key or device: {keys.data!.total} key{keys.data!.total === 1 ? '' : 's'} registered.
              </ActionItem>
            )}
            {u.isApplication && (
              <ActionItem
                title="Client credentials"
                action={
                  <Button
                    onClick={async () => {
                      await confirm({
                        title: 'Issue new client credentials?',
                        body: 'Any credentials issued earlier for this account stop working.',
                        confirmLabel: 'Issue',
                        action: async () => setCreds(await api.post<ClientCredentials>(`/users/${u.id}/client-credentials`)),
                      });
                    }}
                  >
                    Issue credentials
                  </Button>
                }
              >
                For <code>POST /oauth2/token</code> (client_credentials). Issuing new ones replaces the earlier ones.
              </ActionItem>
            )}
            <ActionItem
              title="Delete user"
              action={
                <DeleteButton disabled={self} title={self ? 'You cannot delete yourself' : undefined} confirmTitle={`Delete ${u.username}?`} body="This cannot be undone." path={`/users/${u.id}`} done={`User ${u.username} deleted`} then="/admin/users">
                  Delete
                </DeleteButton>
              }
            >
              Removes the account; the audit trail keeps its history.
            </ActionItem>
          </div>
        </Card>
      )}
      {creds && (
        <Modal title="Client credentials" onClose={() => setCreds(null)} footer={<Button variant="primary" onClick={() => setCreds(null)}>Done</Button>}>
          <div className="stack">
            <Alert kind="warning">Copy the secret now: it is shown only once and stored only as a hash.</Alert>
            <Reveal label="Client ID" value={creds.clientId} />
            <Reveal label="Client secret" value={creds.clientSecret} />
          </div>
        </Modal>
      )}
    </div>
  );
}
