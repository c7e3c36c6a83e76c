// Access levels (issue 12): named target groups (Linux groups or LDAP group DNs, and a Linux
// sudoers drop-in) a session's account gets for the session; who is pre-approved, and the
// secrets they apply to. docs/target-accounts.md "Access levels".
import { useEffect, useMemo, useState } from 'react';
import { CardTable } from '../../components/CardTable';
import { BackLink, Pending, ResourceForm } from '../../components/EditForm';
import { ListShell, NewLink } from '../../components/ListShell';
import { Picker } from '../../components/Picker';
import { Badge, Card, Empty, ErrorAlert, Field, PageHeader, TextField } from '../../components/ui';
import { useEditor } from '../../editing';
import { plural } from '../../format';
import { useApi, useTitle } from '../../hooks';
import { Link } from '../../router';
import type { Group, Page, Secret, TargetAccessLevel, User } from '../../api-types';

export function AccessLevels() {
  useTitle('Access levels');
  const levels = useApi<Page<TargetAccessLevel>>('/access-levels?limit=500');
  const items = levels.data?.items ?? [];
  return (
    <div className="page">
      <PageHeader
        title="Access levels"
        subtitle="Groups a session's account gets for the session only: the JIT account, or the stored account, loses them when the session ends."
        actions={<NewLink to="/admin/access-levels/new">New access level</NewLink>}
      />
      <ListShell
        resource={levels}
        isEmpty={items.length === 0}
        empty={
          <Empty icon="clipboard" title="No access levels yet" action={<Link to="/admin/access-levels/new">Create an access level</Link>}>
            An access level names the target groups a session gets, and who may choose it at launch.
          </Empty>
        }
      >
        <CardTable
          rows={items}
          href={(l) => `/admin/access-levels/${l.id}`}
          columns={[
            { label: 'Access level', title: (l) => l.name, cell: (l) => l.description && <div className="cell-sub">{l.description}</div> },
            { label: 'Target groups', cell: (l) => (l.targetGroups.length ? l.targetGroups.map((g) => <Badge key={g}>{g}</Badge>) : <span className="muted">—</span>) },
            { label: 'sudo', cell: (l) => (l.sudoers ? <Badge tone="blue">drop-in</Badge> : <span className="muted">—</span>) },
            { label: 'Applies to', cell: (l) => `${plural(l.secretIds.length, 'secret')}, ${plural(l.folderIds.length, 'folder')}` },
            { label: 'Pre-approved', cell: (l) => (l.preApproved.length ? l.preApproved.map((p) => p.principalName ?? p.principalId).join(', ') : <span className="muted">{l.needsApproval ? 'by request' : 'nobody'}</span>) },
          ]}
        />
      </ListShell>
    </div>
  );
}

export function AccessLevelEdit({ id }: { id: string }) {
  const editor = useEditor<TargetAccessLevel>({ collection: '/access-levels', id, route: '/admin/access-levels', created: (l) => `Access level ${l.name} created` });
  const { isNew, item: level } = editor;
  const users = useApi<Page<User>>('/users?limit=500');
  const groups = useApi<Page<Group>>('/groups?limit=500');
  const secrets = useApi<Page<Secret>>('/secrets?limit=500');
  useTitle(isNew ? 'New access level' : (level.data?.name ?? 'Access level'));
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [targetGroups, setTargetGroups] = useState('');
  const [sudoers, setSudoers] = useState('');
  const [needsApproval, setNeedsApproval] = useState(false);
  const [userIds, setUserIds] = useState<string[]>([]);
  const [groupIds, setGroupIds] = useState<string[]>([]);
  const [secretIds, setSecretIds] = useState<string[]>([]);

  useEffect(() => {
    const l = level.data;
    if (!l) return;
    setName(l.name);
    setDescription(l.description);
    setTargetGroups(l.targetGroups.join('\n'));
    setSudoers(l.sudoers ?? '');
    setNeedsApproval(l.needsApproval);
    setUserIds(l.preApproved.filter((p) => p.principalType === 'user').map((p) => p.principalId));
    setGroupIds(l.preApproved.filter((p) => p.principalType === 'group').map((p) => p.principalId));
    setSecretIds(l.secretIds);
  }, [level.data]);

  const userOptions = useMemo(() => (users.data?.items ?? []).map((u) => ({ id: u.id, label: u.username, sub: undefined })), [users.data]);
  const groupOptions = useMemo(() => (groups.data?.items ?? []).map((g) => ({ id: g.id, label: g.name, sub: undefined })), [groups.data]);
  const secretOptions = useMemo(() => (secrets.data?.items ?? []).map((s) => ({ id: s.id, label: s.name, sub: s.machine ?? undefined })), [secrets.data]);

  if (!isNew && !level.data) return <Pending resource={level} />;
  const save = () =>
    void editor.save({
      name: name.trim(),
      description: description.trim(),
      targetGroups: targetGroups
        .split('\n')
        .map((g) => g.trim())
        .filter(Boolean),
      sudoers: sudoers.trim() ? sudoers : null,
      needsApproval,
      preApproved: [...userIds.map((principal) => ({ principalType: 'user' as const, principal })), ...groupIds.map((principal) => ({ principalType: 'group' as const, principal }))],
      secretIds,
    });
  return (
    <div className="page page-narrow">
      <PageHeader back={<BackLink to="/admin/access-levels">Access levels</BackLink>} title={isNew ? 'New access level' : level.data!.name} />
      <ResourceForm editor={editor} noun="access level" onSave={save} canSave={!!name.trim()} remove={{ confirmTitle: `Delete the access level ${name}?`, body: 'Launches can no longer choose it.', done: 'Access level deleted' }}>
        <Card title="Access level">
          <div className="form-grid">
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required autoFocus={isNew} maxLength={128} />
            <TextField label="Description" value={description} onChange={(e) => setDescription(e.target.value)} placeholder="optional" maxLength={1024} />
          </div>
        </Card>
        <Card title="Target groups" description="One per line: Linux group names, or LDAP group DNs. The groups must exist on the target.">
          <Field label="Groups">
            <textarea rows={4} value={targetGroups} onChange={(e) => setTargetGroups(e.target.value)} spellCheck={false} className="mono" aria-label="Target groups" />
          </Field>
          <Field label="sudoers drop-in (Linux, optional)" hint="{account} stands for the account name; checked with visudo before it is installed, removed after the session.">
            <textarea rows={3} value={sudoers} onChange={(e) => setSudoers(e.target.value)} spellCheck={false} className="mono" placeholder="{account} ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx" aria-label="sudoers drop-in" />
          </Field>
        </Card>
        <Card title="Who may choose it">
          <ErrorAlert error={users.error ?? groups.error} />
          <Field label="Pre-approved people">
            <Picker label="Pre-approved people" options={userOptions} value={userIds} onChange={setUserIds} placeholder="Type a username…" />
          </Field>
          <Field label="Pre-approved groups">
            <Picker label="Pre-approved groups" options={groupOptions} value={groupIds} onChange={setGroupIds} placeholder="Type a group…" />
          </Field>
          <label className="check">
            <input type="checkbox" checked={needsApproval} onChange={(e) => setNeedsApproval(e.target.checked)} /> Others may use it with an approved access request naming it
          </label>
        </Card>
        <Card title="Applies to" description="Secrets here; folders (with everything below them) through the API or CLI.">
          <ErrorAlert error={secrets.error} />
          <Picker label="Secrets" options={secretOptions} value={secretIds} onChange={setSecretIds} placeholder="Type a secret…" />
        </Card>
      </ResourceForm>
    </div>
  );
}
