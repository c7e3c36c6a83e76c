// Users and application accounts: list with search, create, edit, enable/disable, unlock,
// reset two-factor, client credentials.
import { useEffect, useState, type FormEvent } from 'react';
import { api, qs } from '../../api';
import { useMe } from '../../auth';
import { Icon } from '../../components/Icon';
import { Alert, Badge, Button, Card, Checkbox, Empty, ErrorAlert, InlineError, Loading, Modal, PageHeader, Pager, Reveal, SearchBox, Switch, TextField, useConfirm, useToast } from '../../components/ui';
import { relative } from '../../format';
import { useApi, useDebounced, useTitle } from '../../hooks';
import { Link, navigate, setQuery, useLocation } from '../../router';
import type { Group, Page, Role, User } from '../../api-types';

const LIMIT = 50;

export function Users() {
  useTitle('Users');
  const { query } = useLocation();
  const [search, setSearch] = useState(query.get('q') ?? '');
  const q = useDebounced(search.trim(), 250);
  const offset = Number(query.get('offset') ?? 0) || 0;
  useEffect(() => {
    if ((query.get('q') ?? '') !== q) setQuery({ q: q || null, offset: null });
  }, [q]);
  const users = useApi<Page<User>>(`/users${qs({ search: q, limit: LIMIT, offset })}`);

  return (
    <div className="page">
      <PageHeader
        title="Users"
        subtitle="People who sign in, and application accounts that use the API."
        actions={
          <Link className="btn btn-primary" to="/admin/users/new">
            <Icon name="plus" />
            <span>New user</span>
          </Link>
        }
      />
      <div className="toolbar">
        <SearchBox value={search} onChange={setSearch} placeholder="Search by username or name" />
      </div>
      <ErrorAlert error={users.error} />
      {!users.data && users.loading ? (
        <Loading />
      ) : users.data && users.data.items.length === 0 ? (
        <Empty icon="user" title={q ? 'No matches' : 'No users'}>
          {q ? `No user matches “${q}”.` : 'Create the first user.'}
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table table-cards table-click">
              <thead>
                <tr>
                  <th>User</th>
                  <th>Kind</th>
                  <th>Roles</th>
                  <th>Groups</th>
                  <th>Status</th>
                  <th>Last sign-in</th>
                </tr>
              </thead>
              <tbody>
                {users.data?.items.map((u) => (
                  <tr key={u.id} onClick={() => navigate(`/admin/users/${u.id}`)}>
                    <td data-label="User">
                      <Link to={`/admin/users/${u.id}`} className="cell-title">
                        {u.username}
                      </Link>
                      {u.displayName && u.displayName !== u.username && <div className="cell-sub">{u.displayName}</div>}
                    </td>
                    <td data-label="Kind">{u.isApplication ? <Badge tone="violet">Application</Badge> : 'Person'}</td>
                    <td data-label="Roles">{u.roles.map((r) => r.name).join(', ') || <span className="muted">—</span>}</td>
                    <td data-label="Groups">{u.groups.map((g) => g.name).join(', ') || <span className="muted">—</span>}</td>
                    <td data-label="Status">
                      <UserStatus u={u} />
                    </td>
                    <td data-label="Last sign-in" className="nowrap">
                      {relative(u.lastLoginAt)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {users.data && <Pager offset={offset} limit={LIMIT} total={users.data.total} onChange={(o) => setQuery({ offset: o || null })} noun="user" />}
        </>
      )}
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
  const isNew = id === 'new';
  const me = useMe();
  const toast = useToast();
  const confirm = useConfirm();
  const user = useApi<User>(isNew ? null : `/users/${encodeURIComponent(id)}`);
  const roles = useApi<Page<Role>>('/roles?limit=500');
  const groups = useApi<Page<Group>>('/groups?limit=500');
  useTitle(isNew ? 'New user' : (user.data?.username ?? 'User'));

  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [isApplication, setIsApplication] = useState(false);
  const [enabled, setEnabled] = useState(true);
  const [roleIds, setRoleIds] = useState<string[]>(['user']);
  const [groupIds, setGroupIds] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
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

  const toggle = (list: string[], set: (v: string[]) => void, v: string) => set(list.includes(v) ? list.filter((x) => x !== v) : [...list, v]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = {
      displayName: displayName.trim() || username.trim(),
      email: email.trim() || null,
      isApplication,
      enabled,
      roles: roleIds,
      groups: groupIds,
    };
    if (password) body.password = password;
    try {
      if (isNew) {
        const u = await api.post<User>('/users', { username: username.trim(), ...body });
        toast(`User ${u.username} created`);
        navigate(`/admin/users/${u.id}`, { replace: true });
      } else {
        const u = await api.patch<User>(`/users/${encodeURIComponent(id)}`, body);
        user.setData(() => u);
        toast('Changes saved');
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
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
  if (!isNew && !u) return user.error ? <ErrorAlert error={user.error} /> : <Loading />;
  const self = u?.id === me.id;

  return (
    <div className="page page-narrow">
      <PageHeader
        back={
          <Link to="/admin/users">
            <Icon name="arrowLeft" size={14} /> Users
          </Link>
        }
        title={isNew ? 'New user' : u!.username}
        subtitle={u && <UserStatus u={u} />}
      />
      <form onSubmit={save} className="stack">
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
          {roles.data ? (
            <div className="check-grid">
              {roles.data.items.map((r) => (
                <Checkbox key={r.id} label={r.name} hint={r.description} checked={roleIds.includes(r.id)} onChange={() => toggle(roleIds, setRoleIds, r.id)} />
              ))}
            </div>
          ) : (
            <Loading />
          )}
        </Card>
        <Card title="Groups">
          {groups.data ? (
            groups.data.items.length === 0 ? (
              <p className="muted">
                No groups yet. <Link to="/admin/groups/new">Create a group</Link>.
              </p>
            ) : (
              <div className="check-grid">
                {groups.data.items.map((g) => (
                  <Checkbox key={g.id} label={g.name} hint={g.description || undefined} checked={groupIds.includes(g.id)} onChange={() => toggle(groupIds, setGroupIds, g.id)} />
                ))}
              </div>
            )
          ) : (
            <Loading />
          )}
        </Card>
        <InlineError error={error} />
        <div className="form-actions sticky-actions">
          <Button onClick={() => navigate('/admin/users')}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy} disabled={!username.trim()}>
            {isNew ? 'Create user' : 'Save changes'}
          </Button>
        </div>
      </form>

      {u && (
        <Card title="Actions">
          <div className="action-list">
            {u.locked && (
              <div className="action-item">
                <div>
                  <strong>Unlock</strong>
                  <p className="muted small">The account is locked after too many failed sign-ins.</p>
                </div>
                <Button onClick={() => void act('Account unlocked', () => api.post(`/users/${u.id}/unlock`))}>Unlock</Button>
              </div>
            )}
            {u.totpEnabled && (
              <div className="action-item">
                <div>
                  <strong>Reset two-factor authentication</strong>
                  <p className="muted small">For a lost authenticator: the user signs in with the password only and can enrol again.</p>
                </div>
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
              </div>
            )}
            {u.isApplication && (
              <div className="action-item">
                <div>
                  <strong>Client credentials</strong>
                  <p className="muted small">
                    For <code>POST /oauth2/token</code> (client_credentials). Issuing new ones replaces the earlier ones.
                  </p>
                </div>
                <Button
                  onClick={async () => {
                    await confirm({
                      title: 'Issue new client credentials?',
                      body: 'Any credentials issued earlier for this account stop working.',
                      confirmLabel: 'Issue',
                      action: async () => setCreds(await api.post<{ clientId: string; clientSecret: string }>(`/users/${u.id}/client-credentials`)),
                    });
                  }}
                >
                  Issue credentials
                </Button>
              </div>
            )}
            <div className="action-item">
              <div>
                <strong>Delete user</strong>
                <p className="muted small">Removes the account; the audit trail keeps its history.</p>
              </div>
              <Button
                variant="danger"
                disabled={self}
                title={self ? 'You cannot delete yourself' : undefined}
                onClick={async () => {
                  const ok = await confirm({ title: `Delete ${u.username}?`, body: 'This cannot be undone.', confirmLabel: 'Delete', danger: true, action: () => api.del(`/users/${u.id}`) });
                  if (ok !== null) {
                    toast(`User ${u.username} deleted`);
                    navigate('/admin/users');
                  }
                }}
              >
                Delete
              </Button>
            </div>
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
