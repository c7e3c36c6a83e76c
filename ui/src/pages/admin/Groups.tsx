// Groups: members and roles.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api } from '../../api';
import { Icon } from '../../components/Icon';
import { Picker } from '../../components/Picker';
import { Badge, Button, Card, Checkbox, Empty, ErrorAlert, Field, InlineError, Loading, PageHeader, SearchBox, TextField, useConfirm, useToast } from '../../components/ui';
import { plural } from '../../format';
import { useApi, useTitle } from '../../hooks';
import { Link, navigate } from '../../router';
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
      <PageHeader
        title="Groups"
        subtitle="Share secrets with a team and give its members roles in one place."
        actions={
          <Link className="btn btn-primary" to="/admin/groups/new">
            <Icon name="plus" />
            <span>New group</span>
          </Link>
        }
      />
      <div className="toolbar">
        <SearchBox value={search} onChange={setSearch} placeholder="Search groups or members" />
      </div>
      <ErrorAlert error={groups.error} />
      {!groups.data && groups.loading ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty icon="users" title={search ? 'No matches' : 'No groups yet'} action={!search && <Link to="/admin/groups/new">Create a group</Link>}>
          {search ? `No group matches “${search}”.` : 'Groups make sharing and roles easier to manage.'}
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="table table-cards table-click">
            <thead>
              <tr>
                <th>Group</th>
                <th>Members</th>
                <th>Roles</th>
              </tr>
            </thead>
            <tbody>
              {items.map((g) => (
                <tr key={g.id} onClick={() => navigate(`/admin/groups/${g.id}`)}>
                  <td data-label="Group">
                    <Link to={`/admin/groups/${g.id}`} className="cell-title">
                      {g.name}
                    </Link>
                    {g.description && <div className="cell-sub">{g.description}</div>}
                  </td>
                  <td data-label="Members">
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
                  </td>
                  <td data-label="Roles">{g.roles.length ? g.roles.map((r) => <Badge key={r.id}>{r.name}</Badge>) : <span className="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function GroupEdit({ id }: { id: string }) {
  const isNew = id === 'new';
  const toast = useToast();
  const confirm = useConfirm();
  const group = useApi<Group>(isNew ? null : `/groups/${encodeURIComponent(id)}`);
  const users = useApi<Page<User>>('/users?limit=500');
  const roles = useApi<Page<Role>>('/roles?limit=500');
  useTitle(isNew ? 'New group' : (group.data?.name ?? 'Group'));
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [members, setMembers] = useState<string[]>([]);
  const [roleIds, setRoleIds] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

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

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = { name: name.trim(), description: description.trim(), members, roles: roleIds };
    try {
      if (isNew) {
        const g = await api.post<Group>('/groups', body);
        toast(`Group ${g.name} created`);
        navigate(`/admin/groups/${g.id}`, { replace: true });
      } else {
        const g = await api.patch<Group>(`/groups/${encodeURIComponent(id)}`, body);
        group.setData(() => g);
        toast('Changes saved');
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!isNew && !group.data) return group.error ? <ErrorAlert error={group.error} /> : <Loading />;
  return (
    <div className="page page-narrow">
      <PageHeader
        back={
          <Link to="/admin/groups">
            <Icon name="arrowLeft" size={14} /> Groups
          </Link>
        }
        title={isNew ? 'New group' : group.data!.name}
      />
      <form className="stack" onSubmit={save}>
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
          {roles.data ? (
            <div className="check-grid">
              {roles.data.items.map((r) => (
                <Checkbox key={r.id} label={r.name} hint={r.description} checked={roleIds.includes(r.id)} onChange={(v) => setRoleIds(v ? [...roleIds, r.id] : roleIds.filter((x) => x !== r.id))} />
              ))}
            </div>
          ) : (
            <Loading />
          )}
        </Card>
        <InlineError error={error} />
        <div className="form-actions sticky-actions">
          {!isNew && (
            <Button
              variant="danger"
              className="mr-auto"
              onClick={async () => {
                const ok = await confirm({ title: `Delete the group ${name}?`, body: 'Members lose the roles and shares they had through it.', confirmLabel: 'Delete', danger: true, action: () => api.del(`/groups/${encodeURIComponent(id)}`) });
                if (ok !== null) {
                  toast('Group deleted');
                  navigate('/admin/groups');
                }
              }}
            >
              Delete group
            </Button>
          )}
          <Button onClick={() => navigate('/admin/groups')}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy} disabled={!name.trim()}>
            {isNew ? 'Create group' : 'Save changes'}
          </Button>
        </div>
      </form>
    </div>
  );
}
