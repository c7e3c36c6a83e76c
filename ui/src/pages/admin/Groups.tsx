// Groups: members and roles.
import { useEffect, useMemo, useState } from 'react';
import { CardTable } from '../../components/CardTable';
import { BackLink, CheckGrid, Pending, ResourceForm } from '../../components/EditForm';
import { ListShell, NewLink } from '../../components/ListShell';
import { Picker } from '../../components/Picker';
import { Badge, Card, Empty, ErrorAlert, Field, PageHeader, SearchBox, TextField } from '../../components/ui';
import { useEditor } from '../../editing';
import { plural } from '../../format';
import { useApi, useTitle } from '../../hooks';
import { Link } from '../../router';
import type { Group, Page, Role, User } from '../../api-types';

export function Groups() {
  useTitle('Groups');
  const groups = useApi<Page<Group>>('/groups?limit=500');
  const [search, setSearch] = useState('');
  const items = useMemo(() => {
    const w = search.trim().toLowerCase();
    return (groups.data?.items ?? []).filter((g) => !w || g.name.toLowerCase().includes(w) || g.description.toLowerCase().includes(w) || g.members.some((m) => m.username.toLowerCase().includes(w)));
  }, [groups.data, search]);
  return (
    <div className="page">
      <PageHeader title="Groups" subtitle="Share secrets with a team and give its members roles in one place." actions={<NewLink to="/admin/groups/new">New group</NewLink>} />
      <div className="toolbar">
        <SearchBox value={search} onChange={setSearch} placeholder="Search groups or members" />
      </div>
      <ListShell
        resource={groups}
        isEmpty={items.length === 0}
        empty={
          <Empty icon="users" title={search ? 'No matches' : 'No groups yet'} action={!search && <Link to="/admin/groups/new">Create a group</Link>}>
            {search ? `No group matches “${search}”.` : 'Groups make sharing and roles easier to manage.'}
          </Empty>
        }
      >
        <CardTable
          rows={items}
          href={(g) => `/admin/groups/${g.id}`}
          columns={[
            { label: 'Group', title: (g) => g.name, cell: (g) => g.description && <div className="cell-sub">{g.description}</div> },
            {
              label: 'Members',
              cell: (g) => (
                <>
                  {plural(g.members.length, 'member')}
                  {g.members.length > 0 && (
                    <div className="cell-sub">
                      {g.members
                        .slice(0, 5)
                        .map((m) => m.username)
                        .join(', ')}
                      {g.members.length > 5 ? ', …' : ''}
                    </div>
                  )}
                </>
              ),
            },
            { label: 'Roles', cell: (g) => (g.roles.length ? g.roles.map((r) => <Badge key={r.id}>{r.name}</Badge>) : <span className="muted">—</span>) },
          ]}
        />
      </ListShell>
    </div>
  );
}

export function GroupEdit({ id }: { id: string }) {
  const editor = useEditor<Group>({ collection: '/groups', id, route: '/admin/groups', created: (g) => `Group ${g.name} created` });
  const { isNew, item: group } = editor;
  const users = useApi<Page<User>>('/users?limit=500');
  const roles = useApi<Page<Role>>('/roles?limit=500');
  useTitle(isNew ? 'New group' : (group.data?.name ?? 'Group'));
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [members, setMembers] = useState<string[]>([]);
  const [roleIds, setRoleIds] = useState<string[]>([]);

  useEffect(() => {
    const g = group.data;
    if (!g) return;
    setName(g.name);
    setDescription(g.description);
    setMembers(g.members.map((m) => m.id));
    setRoleIds(g.roles.map((r) => r.id));
  }, [group.data]);

  const userOptions = useMemo(() => {
    const opts = (users.data?.items ?? []).map((u) => ({ id: u.id, label: u.username, sub: u.displayName !== u.username ? u.displayName : undefined }));
    for (const m of group.data?.members ?? []) if (!opts.some((o) => o.id === m.id)) opts.push({ id: m.id, label: m.username, sub: undefined });
    return opts;
  }, [users.data, group.data]);

  if (!isNew && !group.data) return <Pending resource={group} />;
  return (
    <div className="page page-narrow">
      <PageHeader back={<BackLink to="/admin/groups">Groups</BackLink>} title={isNew ? 'New group' : group.data!.name} />
      <ResourceForm
        editor={editor}
        noun="group"
        onSave={() => void editor.save({ name: name.trim(), description: description.trim(), members, roles: roleIds })}
        canSave={!!name.trim()}
        remove={{ confirmTitle: `Delete the group ${name}?`, body: 'Members lose the roles and shares they had through it.', done: 'Group deleted' }}
      >
        <Card title="Group">
          <div className="form-grid">
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus={isNew} maxLength={128} />
            <TextField label="Description" value={description} onChange={(e) => setDescription(e.target.value)} placeholder="optional" maxLength={1024} />
          </div>
        </Card>
        <Card title="Members" description={plural(members.length, 'member')}>
          <ErrorAlert error={users.error} />
          <Field label="Add people or application accounts">
            <Picker label="Members" options={userOptions} value={members} onChange={setMembers} placeholder="Type a username…" />
          </Field>
        </Card>
        <Card title="Roles" description="Every member gets these roles' permissions.">
          <CheckGrid items={roles.data?.items} value={roleIds} onChange={setRoleIds} label={(r) => r.name} hint={(r) => r.description} />
        </Card>
      </ResourceForm>
    </div>
  );
}
