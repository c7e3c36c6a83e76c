// Roles: named sets of permissions. Built-in roles are read-only.
import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../../api';
import { Icon } from '../../components/Icon';
import { Alert, Badge, Button, Card, Checkbox, Empty, ErrorAlert, InlineError, Loading, PageHeader, TextField, useConfirm, useToast } from '../../components/ui';
import { PERMISSION_LABELS } from '../../format';
import { useApi, useTitle } from '../../hooks';
import { Link, navigate } from '../../router';
import type { Permission, Role, RolePage } from '../../api-types';

export function Roles() {
  useTitle('Roles');
  const roles = useApi<RolePage>('/roles?limit=500');
  return (
    <div className="page">
      <PageHeader
        title="Roles"
        subtitle="What people may do. A person's permissions are those of all their roles, direct and through groups."
        actions={
          <Link className="btn btn-primary" to="/admin/roles/new">
            <Icon name="plus" />
            <span>New role</span>
          </Link>
        }
      />
      <ErrorAlert error={roles.error} />
      {!roles.data && roles.loading ? (
        <Loading />
      ) : roles.data?.items.length === 0 ? (
        <Empty title="No roles" />
      ) : (
        <div className="table-wrap">
          <table className="table table-cards table-click">
            <thead>
              <tr>
                <th>Role</th>
                <th>Permissions</th>
              </tr>
            </thead>
            <tbody>
              {roles.data?.items.map((r) => (
                <tr key={r.id} onClick={() => navigate(`/admin/roles/${r.id}`)}>
                  <td data-label="Role">
                    <Link to={`/admin/roles/${r.id}`} className="cell-title">
                      {r.name}
                    </Link>{' '}
                    {r.builtin && <Badge>Built-in</Badge>}
                    {r.description && <div className="cell-sub">{r.description}</div>}
                  </td>
                  <td data-label="Permissions">
                    <span className="badges">
                      {r.permissions.length ? r.permissions.map((p) => <Badge key={p} tone="blue">{PERMISSION_LABELS[p] ?? p}</Badge>) : <span className="muted">none (access comes from sharing)</span>}
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function RoleEdit({ id }: { id: string }) {
  const isNew = id === 'new';
  const toast = useToast();
  const confirm = useConfirm();
  const role = useApi<Role>(isNew ? null : `/roles/${encodeURIComponent(id)}`);
  const catalogue = useApi<RolePage>('/roles?limit=1');
  useTitle(isNew ? 'New role' : (role.data?.name ?? 'Role'));
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [perms, setPerms] = useState<Permission[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const r = role.data;
    if (!r) return;
    setName(r.name);
    setDescription(r.description);
    setPerms(r.permissions);
  }, [role.data]);

  const builtin = !!role.data?.builtin;
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = { name: name.trim(), description: description.trim(), permissions: perms };
    try {
      if (isNew) {
        const r = await api.post<Role>('/roles', body);
        toast(`Role ${r.name} created`);
        navigate(`/admin/roles/${r.id}`, { replace: true });
      } else {
        const r = await api.patch<Role>(`/roles/${encodeURIComponent(id)}`, body);
        role.setData(() => r);
        toast('Changes saved');
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!isNew && !role.data) return role.error ? <ErrorAlert error={role.error} /> : <Loading />;
  const descriptions = catalogue.data?.permissions ?? ({} as Record<Permission, string>);
  const all = Object.keys(descriptions).length ? (Object.keys(descriptions) as Permission[]) : (Object.keys(PERMISSION_LABELS) as Permission[]);
  return (
    <div className="page page-narrow">
      <PageHeader
        back={
          <Link to="/admin/roles">
            <Icon name="arrowLeft" size={14} /> Roles
          </Link>
        }
        title={isNew ? 'New role' : role.data!.name}
        subtitle={builtin ? <Badge>Built-in</Badge> : undefined}
      />
      {builtin && <Alert kind="info">Built-in roles cannot be changed. Create a custom role to combine permissions differently.</Alert>}
      <form className="stack" onSubmit={save}>
        <Card title="Role">
          <div className="form-grid">
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required disabled={builtin} autoFocus={isNew} maxLength={128} />
            <TextField label="Description" value={description} onChange={(e) => setDescription(e.target.value)} disabled={builtin} placeholder="optional" maxLength={1024} />
          </div>
        </Card>
        <Card title="Permissions">
          <div className="check-list">
            {all.map((p) => (
              <Checkbox key={p} label={PERMISSION_LABELS[p] ?? p} hint={descriptions[p]} checked={perms.includes(p)} onChange={(v) => setPerms(v ? [...perms, p] : perms.filter((x) => x !== p))} disabled={builtin} />
            ))}
          </div>
        </Card>
        <InlineError error={error} />
        {!builtin && (
          <div className="form-actions sticky-actions">
            {!isNew && (
              <Button
                variant="danger"
                className="mr-auto"
                onClick={async () => {
                  const ok = await confirm({ title: `Delete the role ${name}?`, body: 'Users and groups that have it lose its permissions.', confirmLabel: 'Delete', danger: true, action: () => api.del(`/roles/${encodeURIComponent(id)}`) });
                  if (ok !== null) {
                    toast('Role deleted');
                    navigate('/admin/roles');
                  }
                }}
              >
                Delete role
              </Button>
            )}
            <Button onClick={() => navigate('/admin/roles')}>Cancel</Button>
            <Button type="submit" variant="primary" busy={busy} disabled={!name.trim()}>
              {isNew ? 'Create role' : 'Save changes'}
            </Button>
          </div>
        )}
      </form>
    </div>
  );
}
