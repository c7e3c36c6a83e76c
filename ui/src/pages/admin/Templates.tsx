// Secret templates: fields, which field holds the machine/domain/username, and the
// launchers a template maps to.
import { useEffect, useState } from 'react';
import { CardTable } from '../../components/CardTable';
import { BackLink, CheckGrid, Pending, ResourceForm } from '../../components/EditForm';
import { Icon } from '../../components/Icon';
import { ListShell, NewLink } from '../../components/ListShell';
import { Alert, Badge, Button, Card, Empty, PageHeader, SelectField, TextField } from '../../components/ui';
import { useEditor } from '../../editing';
import { PROTOCOL_LABELS } from '../../format';
import { useApi, useTitle } from '../../hooks';
import type { FieldDef, FieldType, Launcher, Page, Template } from '../../api-types';
import './Templates.css';

const TYPES: { id: FieldType; label: string }[] = [
  { id: 'text', label: 'Text' },
  { id: 'number', label: 'Number' },
  { id: 'password', label: 'Password' },
  { id: 'key', label: 'Private key' },
  { id: 'notes', label: 'Notes' },
];

export function Templates() {
  useTitle('Templates');
  const templates = useApi<Page<Template>>('/templates?limit=500');
  const launchers = useApi<Page<Launcher>>('/launchers?limit=500');
  const name = (ref: string) => launchers.data?.items.find((l) => l.id === ref || l.name === ref)?.name ?? ref;
  return (
    <div className="page">
      <PageHeader title="Templates" subtitle="What a secret holds, and how it can be opened." actions={<NewLink to="/admin/templates/new">New template</NewLink>} />
      <ListShell resource={templates} isEmpty={templates.data?.items.length === 0} empty={<Empty title="No templates" />}>
        <CardTable
          rows={templates.data?.items}
          href={(t) => `/admin/templates/${t.id}`}
          columns={[
            {
              label: 'Template',
              title: (t) => t.name,
              cell: (t) => (
                <>
                  {' '}
                  {t.builtin && <Badge>Built-in</Badge>}
                </>
              ),
            },
            { label: 'Fields', className: 'small', cell: (t) => t.fields.map((f) => f.label).join(', ') },
            { label: 'Launchers', cell: (t) => <span className="badges">{t.launchers.length ? t.launchers.map((l) => <Badge key={l} tone="blue">{name(l)}</Badge>) : <span className="muted">none</span>}</span> },
          ]}
        />
      </ListShell>
    </div>
  );
}

interface FieldRow extends FieldDef {
  key: number;
}

let fieldSeq = 0;

export function TemplateEdit({ id }: { id: string }) {
  const editor = useEditor<Template>({ collection: '/templates', id, route: '/admin/templates', created: (t) => `Template ${t.name} created` });
  const { isNew, item: template } = editor;
  const launchers = useApi<Page<Launcher>>('/launchers?limit=500');
  useTitle(isNew ? 'New template' : (template.data?.name ?? 'Template'));
  const [name, setName] = useState('');
  const [fields, setFields] = useState<FieldRow[]>(
    isNew
      ? [
          { key: ++fieldSeq, name: 'machine', label: 'Machine', type: 'text', secret: false, required: true },
          { key: ++fieldSeq, name: 'username', label: 'Username', type: 'text', secret: false, required: true },
          { key: ++fieldSeq, name: 'password', label: 'Password', type: 'password', secret: true, required: false },
        ]
      : [],
  );
  const [machineField, setMachineField] = useState<string>(isNew ? 'machine' : '');
  const [domainField, setDomainField] = useState<string>('');
  const [usernameField, setUsernameField] = useState<string>(isNew ? 'username' : '');
  const [mapped, setMapped] = useState<string[]>([]);

  useEffect(() => {
    const t = template.data;
    if (!t) return;
    setName(t.name);
    setFields(t.fields.map((f) => ({ ...f, key: ++fieldSeq })));
    setMachineField(t.machineField ?? '');
    setDomainField(t.domainField ?? '');
    setUsernameField(t.usernameField ?? '');
    setMapped(t.launchers);
  }, [template.data]);

  const builtin = !!template.data?.builtin;
  const setField = (key: number, p: Partial<FieldDef>) =>
    setFields((fs) =>
      fs.map((f) => {
        if (f.key !== key) return f;
        const next = { ...f, ...p };
        // Password and key fields are always secret; numbers and notes never are.
        if (p.type) next.secret = p.type === 'password' || p.type === 'key' ? true : p.type === 'text' ? f.secret : false;
        return next;
      }),
    );
  const move = (i: number, d: number) =>
    setFields((fs) => {
      const j = i + d;
      if (j < 0 || j >= fs.length) return fs;
      const c = [...fs];
      [c[i], c[j]] = [c[j]!, c[i]!];
      return c;
    });
  const names = fields.map((f) => f.name).filter(Boolean);

  const save = () => {
    const defs = fields.map(({ key: _k, ...f }) => {
      const out: FieldDef = { name: f.name.trim(), label: f.label.trim() || f.name.trim(), type: f.type, secret: f.secret, required: f.required };
      if (f.default !== undefined && f.default !== '') out.default = f.type === 'number' && /^-?\d+$/.test(String(f.default)) ? Number(f.default) : String(f.default);
      return out;
    });
    const body = builtin
      ? { launchers: mapped }
      : { name: name.trim(), fields: defs, machineField: machineField || null, domainField: domainField || null, usernameField: usernameField || null, launchers: mapped };
    void editor.save(body);
  };

  if (!isNew && !template.data) return <Pending resource={template} />;
  const fieldOptions = names.map((n) => ({ value: n, label: fields.find((f) => f.name === n)?.label || n }));
  const fieldSelect = (label: string, value: string, set: (v: string) => void, hint: string) => <SelectField label={label} hint={hint} none="(none)" options={fieldOptions} value={value} onChange={set} disabled={builtin} />;
  return (
    <div className="page">
      <PageHeader back={<BackLink to="/admin/templates">Templates</BackLink>} title={isNew ? 'New template' : template.data!.name} subtitle={builtin ? <Badge>Built-in</Badge> : undefined} />
      {builtin && <Alert kind="info">The name and fields of built-in templates cannot change; you can choose which launchers they map to.</Alert>}
      <ResourceForm editor={editor} noun="template" onSave={save} canSave={!!name.trim()} remove={!builtin && { confirmTitle: `Delete the template ${name}?`, done: 'Template deleted' }}>
        <Card title="Template">
          <div className="form-grid">
            <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} required disabled={builtin} autoFocus={isNew} maxLength={128} />
          </div>
        </Card>
        <Card title="Fields" description="Password and private key fields are secret: encrypted, and only ever used by Gatehouse or revealed (audited).">
          <div className="table-wrap">
            <table className="table fields-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Label</th>
                  <th>Type</th>
                  <th>Secret</th>
                  <th>Required</th>
                  <th>Default</th>
                  <th aria-label="Order and remove" />
                </tr>
              </thead>
              <tbody>
                {fields.map((f, i) => (
                  <tr key={f.key}>
                    <td>
                      <input className="input mono" value={f.name} onChange={(e) => setField(f.key, { name: e.target.value })} disabled={builtin} aria-label="Field name" placeholder="name" spellCheck={false} />
                    </td>
                    <td>
                      <input className="input" value={f.label} onChange={(e) => setField(f.key, { label: e.target.value })} disabled={builtin} aria-label="Label" placeholder="Label" />
                    </td>
                    <td>
                      <select className="input" value={f.type} onChange={(e) => setField(f.key, { type: e.target.value as FieldType })} disabled={builtin} aria-label="Type">
                        {TYPES.map((t) => (
                          <option key={t.id} value={t.id}>
                            {t.label}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td className="center">
                      <input type="checkbox" checked={f.secret} onChange={(e) => setField(f.key, { secret: e.target.checked })} disabled={builtin} aria-label="Secret" />
                    </td>
                    <td className="center">
                      <input type="checkbox" checked={f.required} onChange={(e) => setField(f.key, { required: e.target.checked })} disabled={builtin} aria-label="Required" />
                    </td>
                    <td>
                      <input className="input" value={f.default ?? ''} onChange={(e) => setField(f.key, { default: e.target.value })} disabled={builtin || f.secret} aria-label="Default" />
                    </td>
                    <td className="nowrap">
                      {!builtin && (
                        <>
                          <button type="button" className="icon-btn" onClick={() => move(i, -1)} disabled={i === 0} aria-label="Move up">
                            ↑
                          </button>
                          <button type="button" className="icon-btn" onClick={() => move(i, 1)} disabled={i === fields.length - 1} aria-label="Move down">
                            ↓
                          </button>
                          <button type="button" className="icon-btn" onClick={() => setFields((fs) => fs.filter((x) => x.key !== f.key))} aria-label="Remove field">
                            <Icon name="trash" />
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {!builtin && (
            <div className="form-actions">
              <Button icon="plus" className="mr-auto" onClick={() => setFields((fs) => [...fs, { key: ++fieldSeq, name: '', label: '', type: 'text', secret: false, required: false }])}>
                Add field
              </Button>
            </div>
          )}
          <div className="form-grid">
            {fieldSelect('Machine field', machineField, setMachineField, 'The host launchers connect to.')}
            {fieldSelect('Username field', usernameField, setUsernameField, 'The account on the target.')}
            {fieldSelect('Domain field', domainField, setDomainField, 'For Active Directory accounts.')}
          </div>
        </Card>
        <Card title="Launchers" description="How secrets of this template can be opened. People see one button per launcher.">
          <CheckGrid
            items={launchers.data?.items}
            value={mapped}
            onChange={setMapped}
            matches={(l, x) => x === l.id || x === l.name}
            label={(l) => (
              <>
                {l.name} {!l.active && <Badge tone="amber">inactive</Badge>}
              </>
            )}
            hint={(l) => `${PROTOCOL_LABELS[l.protocol] ?? l.protocol}${l.type === 'session-connector' ? ` via ${l.gatewayHost}${l.gatewayPort ? ':' + l.gatewayPort : ''}` : ''}`}
          />
        </Card>
      </ResourceForm>
    </div>
  );
}
