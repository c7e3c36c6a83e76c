// Secret templates: which fields a secret has, which are secret (encrypted, shown only
// through reveal), and which hold the machine and the domain (the seeds' "Machine Field"
// and "Domain Field", used by launchers and the credential-provider API).
import type { Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { Actor, AuditService } from '../audit/service.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { newId, now, own, parseJson } from '../util.js';
import { normalizeRules, type PasswordRules } from '../accounts/password-rules.js';
import type { TargetKind } from '../accounts/operator.js';

// Read at every launch and redeem (prepared once: store/prepared.ts).
const templateByRef = prepare((db, slot: SlotOf<{ ref: string }>) => db.selectFrom('templates').selectAll().where((eb) => eb.or([eb('id', '=', slot('ref')), eb('name', '=', slot('ref'))])));

export type FieldType = 'text' | 'password' | 'key' | 'number' | 'notes';

export interface FieldDef {
  name: string;
  label: string;
  type: FieldType;
  secret: boolean;
  required: boolean;
  default?: string | number;
}

/** A field as given to create or update: secret and required get defaults when left out. */
export type FieldInput = Omit<FieldDef, 'secret' | 'required'> & Partial<Pick<FieldDef, 'secret' | 'required'>>;

/** A template as given to create or update. */
export type TemplateInput = Partial<Omit<TemplateDef, 'fields'>> & { fields?: FieldInput[] };

export interface TemplateDef {
  fields: FieldDef[];
  machineField: string | null;
  domainField: string | null;
  usernameField: string | null;
  /** Launcher types this template maps to (filled by the launcher issues). */
  launchers: string[];
  /** What rotated passwords look like (issue 12); left out: the defaults. */
  passwordRules?: Partial<PasswordRules>;
  /** The kind of target its secrets' accounts live on, when Gatehouse may manage them. */
  targetKind?: TargetKind | null;
}

export interface TemplateView extends Omit<TemplateDef, 'passwordRules' | 'targetKind'> {
  id: string;
  name: string;
  builtin: boolean;
  passwordRules: PasswordRules;
  targetKind: TargetKind | null;
}

const f = (name: string, label: string, type: FieldType, opts: Partial<FieldDef> = {}): FieldDef => ({
  name,
  label,
  type,
  secret: type === 'password' || type === 'key',
  required: false,
  ...opts,
});

export const BUILTIN_TEMPLATES: (TemplateDef & { id: string; name: string })[] = [
  {
    id: 'unix-account',
    name: 'Unix Account',
    fields: [
      f('machine', 'Machine', 'text', { required: true }),
      f('port', 'Port', 'number', { default: 22 }),
      f('username', 'Username', 'text', { required: true }),
      f('password', 'Password', 'password'),
      f('privateKey', 'Private Key', 'key'),
      f('passphrase', 'Private Key Passphrase', 'password'),
      f('notes', 'Notes', 'notes'),
    ],
    machineField: 'machine',
    domainField: null,
    usernameField: 'username',
    // rdp too: Linux hosts running xrdp take the same account over RDP.
    launchers: ['ssh', 'telnet', 'rdp'],
    targetKind: 'linux',
  },
  {
    id: 'windows-account',
    name: 'Windows Local Account',
    fields: [
      f('machine', 'Machine', 'text', { required: true }),
      f('port', 'Port', 'number', { default: 3389 }),
      f('username', 'Username', 'text', { required: true }),
      f('password', 'Password', 'password', { required: true }),
      f('notes', 'Notes', 'notes'),
    ],
    machineField: 'machine',
    domainField: null,
    usernameField: 'username',
    launchers: ['rdp'],
    // Heartbeat over RDP (an NLA logon); its password cannot be changed from here.
    targetKind: 'windows',
  },
  {
    id: 'active-directory-account',
    name: 'Active Directory Account',
    fields: [
      f('domain', 'Domain', 'text', { required: true }),
      f('username', 'Username', 'text', { required: true }),
      f('password', 'Password', 'password', { required: true }),
      f('machine', 'Machine (optional default target)', 'text'),
      f('notes', 'Notes', 'notes'),
    ],
    machineField: 'machine',
    domainField: 'domain',
    usernameField: 'username',
    launchers: ['rdp'],
  },
  {
    id: 'generic',
    name: 'Generic Account',
    fields: [
      f('machine', 'Machine', 'text'),
      f('port', 'Port', 'number'),
      f('username', 'Username', 'text'),
      f('password', 'Password', 'password'),
      f('notes', 'Notes', 'notes'),
    ],
    machineField: 'machine',
    domainField: null,
    usernameField: 'username',
    launchers: [],
  },
];

export const MAX_FIELD = 4096;
export const MAX_KEY_FIELD = 65536;

export class Templates {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
  ) {}

  async seedBuiltins(): Promise<void> {
    for (const t of BUILTIN_TEMPLATES) {
      const { id, name, ...def } = t;
      const have = await this.store.db.selectFrom('templates').select('id').where('id', '=', id).executeTakeFirst();
      if (!have) await this.store.db.insertInto('templates').values({ id, name, builtin: 1, definition: JSON.stringify(def), createdAt: now(), updatedAt: now() }).execute();
    }
  }

  async get(ref: string): Promise<TemplateView> {
    const row = await templateByRef.first(this.store.db, { ref });
    if (!row) throw notFound(`template "${ref}"`);
    const def = parseJson<TemplateDef>(row.definition, { fields: [], machineField: null, domainField: null, usernameField: null, launchers: [] });
    const { passwordRules, targetKind, ...rest } = def;
    // Built-ins seeded before issue 12 get their target kind from the code.
    const kind = targetKind !== undefined ? targetKind : (BUILTIN_TEMPLATES.find((b) => b.id === row.id && row.builtin)?.targetKind ?? null);
    return { id: row.id, name: row.name, builtin: !!row.builtin, ...rest, passwordRules: normalizeRules(passwordRules), targetKind: kind };
  }

  async list(): Promise<TemplateView[]> {
    const rows = await this.store.db.selectFrom('templates').select('id').orderBy('builtin', 'desc').orderBy('name').execute();
    return Promise.all(rows.map((r) => this.get(r.id)));
  }

  /** `before`: the template's fields as they were (an update), kept even with a name refused now. */
  validateDef(def: TemplateDef, before: readonly { name: string }[] = []): void {
    const names = new Set<string>();
    for (const fd of def.fields) {
      if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(fd.name)) throw badRequest(`field name "${fd.name}" must start with a letter and hold letters, digits or _`);
      // Every JavaScript object already answers to these names; a field of that name would read
      // as set where it is not (see own()).
      if (fd.name in Object.prototype && !before.some((b) => b.name === fd.name)) throw badRequest(`field name "${fd.name}" is reserved; choose another name`);
      if (names.has(fd.name)) throw badRequest(`field "${fd.name}" is defined twice`);
      names.add(fd.name);
      // Launches read `port` as the target's TCP port.
      if (fd.name === 'port' && fd.type !== 'number') throw badRequest('field "port" must have type "number" (launches connect to it)');
      if (fd.type === 'number' && fd.default !== undefined) numberField(fd.name, fd.default, `the default of field "${fd.name}"`);
    }
    for (const k of ['machineField', 'domainField', 'usernameField'] as const) {
      const v = def[k];
      if (v && !names.has(v)) throw badRequest(`${k} "${v}" is not one of the template's fields`);
    }
    if (def.passwordRules) def.passwordRules = normalizeRules(def.passwordRules);
  }

  async create(actor: Actor, input: { name: string } & TemplateInput & { fields: FieldInput[] }): Promise<TemplateView> {
    const def: TemplateDef = {
      fields: input.fields.map((x) => ({ ...x, secret: x.secret ?? (x.type === 'password' || x.type === 'key'), required: x.required ?? false })),
      machineField: input.machineField ?? null,
      domainField: input.domainField ?? null,
      usernameField: input.usernameField ?? null,
      launchers: input.launchers ?? [],
      ...(input.passwordRules ? { passwordRules: input.passwordRules } : {}),
      targetKind: input.targetKind ?? null,
    };
    this.validateDef(def);
    const clash = await this.store.db.selectFrom('templates').select('id').where('name', '=', input.name).executeTakeFirst();
    if (clash) throw conflict(`template "${input.name}" already exists`);
    const id = newId();
    await this.store.db.insertInto('templates').values({ id, name: input.name, builtin: 0, definition: JSON.stringify(def), createdAt: now(), updatedAt: now() }).execute();
    await this.audit.record(actor, { action: 'template.create', target: { type: 'template', id }, details: { name: input.name, fields: def.fields.map((x) => x.name) } });
    return this.get(id);
  }

  async update(actor: Actor, id: string, input: { name?: string } & TemplateInput): Promise<TemplateView> {
    const cur = await this.get(id);
    if (cur.builtin && (input.fields || input.name)) throw forbidden('the fields and name of built-in templates cannot be changed; create a custom template', 'builtin_template');
    const def: TemplateDef = {
      fields: input.fields ? input.fields.map((x) => ({ ...x, secret: x.secret ?? (x.type === 'password' || x.type === 'key'), required: x.required ?? false })) : cur.fields,
      machineField: input.machineField !== undefined ? input.machineField : cur.machineField,
      domainField: input.domainField !== undefined ? input.domainField : cur.domainField,
      usernameField: input.usernameField !== undefined ? input.usernameField : cur.usernameField,
      launchers: input.launchers ?? cur.launchers,
      passwordRules: input.passwordRules ?? cur.passwordRules,
      targetKind: input.targetKind !== undefined ? input.targetKind : cur.targetKind,
    };
    this.validateDef(def, cur.fields);
    if (input.fields) {
      // Removing or un-securing fields of a template in use would orphan or expose stored values.
      const inUse = await this.store.db.selectFrom('secrets').select('id').where('templateId', '=', cur.id).limit(1).executeTakeFirst();
      if (inUse) {
        for (const old of cur.fields) {
          const nf = def.fields.find((x) => x.name === old.name);
          if (!nf) throw conflict(`field "${old.name}" is used by existing secrets and cannot be removed`);
          if (nf.secret !== old.secret) throw conflict(`field "${old.name}" is used by existing secrets; its secret flag cannot change`);
        }
      }
    }
    if (input.name && input.name !== cur.name) {
      const clash = await this.store.db.selectFrom('templates').select('id').where('name', '=', input.name).executeTakeFirst();
      if (clash) throw conflict(`template "${input.name}" already exists`);
    }
    await this.store.db
      .updateTable('templates')
      .set({ name: input.name ?? cur.name, definition: JSON.stringify(def), updatedAt: now() })
      .where('id', '=', cur.id)
      .execute();
    await this.audit.record(actor, { action: 'template.update', target: { type: 'template', id: cur.id }, details: { name: input.name ?? cur.name } });
    return this.get(cur.id);
  }

  async remove(actor: Actor, id: string): Promise<void> {
    const cur = await this.get(id);
    if (cur.builtin) throw forbidden('built-in templates cannot be deleted', 'builtin_template');
    const inUse = await this.store.db.selectFrom('secrets').select('id').where('templateId', '=', cur.id).limit(1).executeTakeFirst();
    if (inUse) throw conflict('template is used by secrets; delete or move them first');
    await this.store.db.deleteFrom('templates').where('id', '=', cur.id).execute();
    await this.audit.record(actor, { action: 'template.delete', target: { type: 'template', id: cur.id }, details: { name: cur.name } });
  }
}

/**
 * A number field's value: a JSON integer (a string such as "22" is refused, not guessed at).
 * The field `port` is what launches connect to, so it must be a TCP port, 1-65535.
 */
export function numberField(name: string, v: unknown, what = `field "${name}"`): number {
  const min = name === 'port' ? 1 : 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 65535) {
    throw badRequest(`${what} must be ${name === 'port' ? 'a TCP port number' : 'a whole number'} from ${min} to 65535, given as a JSON number${typeof v === 'string' ? ', not a string' : ''}`);
  }
  return v;
}

/** Splits and checks field values against a template: public fields stay readable, secret ones get encrypted. */
export function splitFields(t: TemplateView, fields: Record<string, unknown>, partial = false): { pub: Record<string, string | number>; sec: Record<string, string> } {
  const pub: Record<string, string | number> = {};
  const sec: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    const fd = t.fields.find((x) => x.name === k);
    if (!fd) throw badRequest(`unknown field "${k}" for template "${t.name}"; fields: ${t.fields.map((x) => x.name).join(', ')}`);
    if (v === null || v === undefined || v === '') continue;
    if (fd.type === 'number') {
      const n = numberField(k, v);
      (fd.secret ? sec : pub)[k] = fd.secret ? String(n) : n;
      continue;
    }
    if (typeof v !== 'string') throw badRequest(`field "${k}" must be a string`);
    const max = fd.type === 'key' || fd.type === 'notes' ? MAX_KEY_FIELD : MAX_FIELD;
    if (v.length > max) throw badRequest(`field "${k}" is longer than ${max} characters`);
    if (fd.secret) sec[k] = v;
    else pub[k] = v;
  }
  if (!partial) {
    for (const fd of t.fields) {
      if (fd.required && own(pub, fd.name) === undefined && own(sec, fd.name) === undefined) {
        if (fd.default !== undefined) pub[fd.name] = fd.default;
        else throw badRequest(`field "${fd.name}" is required for template "${t.name}"`);
      } else if (fd.default !== undefined && own(pub, fd.name) === undefined && !fd.secret) pub[fd.name] = fd.default;
    }
  }
  return { pub, sec };
}
