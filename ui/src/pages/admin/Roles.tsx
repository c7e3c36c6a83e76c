// Roles: named sets of permissions. Built-in roles are read-only.
import { useEffect, useState } from 'react';
import { BackLink, Pending, ResourceForm } from '../../components/EditForm';
import { CardTable } from '../../components/CardTable';
import { ListShell, NewLink } from '../../components/ListShell';
import { Alert, Badge, Card, Checkbox, Empty, PageHeader, TextField } from '../../components/ui';
import { useEditor } from '../../editing';
import { PERMISSION_LABELS } from '../../format';
import { useApi, useTitle } from '../../hooks';
import type { Permission, Role, RolePage } from '../../api-types';

export function Roles() {
  useTitle('Roles');
  const roles = useApi<RolePage>('/roles?limit=500');
  return (
    <div className="page">
      <PageHeader
        title="Roles"
        subtitle="What people may do. A person's permissions are those of all their roles, direct and through groups."
        actions={<NewLink to="/admin/roles/new">New role</NewLink>}
      />
      <ListShell resource={roles} isEmpty={roles.data?.items.length === 0} empty={<Empty title="No roles" />}>
        <CardTable
          rows={roles.data?.items}
          href={(r) => `/admin/roles/${r.id}`}
          columns={[
            {
              label: 'Role',
              title: (r) => r.name,
              cell: (r) => (
                <>
                  {' '}
                  {r.builtin && <Badge>Built-in</Badge>}
                  {r.description && <div className="cell-sub">{r.description}</div>}
                </>
              ),
            },
            {
              label: 'Permissions',
              cell: (r) => (
                <span className="badges">
                  {r.permissions.length ? r.permissions.map((p) => <Badge key={p} tone="blue">{PERMISSION_LABELS[p] ?? p}</Badge>) : <span className="muted">none (access comes from sharing)</span>}
                </span>
              ),
            },
          ]}
        />
      </ListShell>
    </div>
  );
}

export function RoleEdit({ id }: { id: string }) {
  const editor = useEditor<Role>({ collection: '/roles', id, route: '/admin/roles', created: (r) => `Role ${r.name} created` });
  const { isNew, item: role } = editor;
  const catalogue = useApi<RolePage>('/roles?limit=1');
  useTitle(isNew ? 'New role' : (role.data?.name ?? 'Role'));
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [perms, setPerms] = useState<Permission[]>([]);

  useEffect(() => {
    const r = role.data;
    if (!r) return;
    setName(r.name);
    setDescription(r.description);
    setPerms(r.permissions);
  }, [role.data]);

  const builtin = !!role.data?.builtin;
  if (!isNew && !role.data) return <Pending resource={role} />;
  const descriptions = catalogue.data?.permissions ?? ({} as Record<Permission, string>);
  const all = Object.keys(descriptions).length ? (Object.keys(descriptions) as Permission[]) : (Object.keys(PERMISSION_LABELS) as Permission[]);
  return (
    <div className="page page-narrow">
      <PageHeader back={<BackLink to="/admin/roles">Roles</BackLink>} title={isNew ? 'New role' : role.data!.name} subtitle={builtin ? <Badge>Built-in</Badge> : undefined} />
      {builtin && <Alert kind="info">Built-in roles cannot be changed. Create a custom role to combine permissions differently.</Alert>}
      <ResourceForm
        editor={editor}
        noun="role"
        onSave={() => void editor.save({ name: name.trim(), description: description.trim(), permissions: perms })}
        readOnly={builtin}
        canSave={!!name.trim()}
        remove={{ confirmTitle: `Delete the role ${name}?`, body: 'Users and groups that have it lose its permissions.', done: 'Role deleted' }}
      >
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
      </ResourceForm>
    </div>
  );
}
