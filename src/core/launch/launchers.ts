// Launchers: how a secret is opened. Built-in types ssh, telnet and rdp; custom
// "session connector" launchers name a child type and the gateway address clients are
// sent to (a cluster hostname can stand there), as in the Session Connector document.
import type { Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { LaunchersTable, LauncherType } from '../../store/schema.js';
import type { Actor, AuditService } from '../audit/service.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { AppError } from '../errors.js';
import type { SettingsService } from '../settings.js';
import { flag, newId, now, parseJson } from '../util.js';

// Read at every launch and redeem (prepared once: store/prepared.ts).
const launcherByRef = prepare((db, slot: SlotOf<{ ref: string }>) => db.selectFrom('launchers').selectAll().where((eb) => eb.or([eb('id', '=', slot('ref')), eb('name', '=', slot('ref'))])));

export type Protocol = Exclude<LauncherType, 'session-connector'>;
export const PROTOCOLS: Protocol[] = ['ssh', 'telnet', 'rdp'];
export const DEFAULT_PORTS: Record<Protocol, number> = { ssh: 22, telnet: 23, rdp: 3389 };

export interface LauncherOptions {
  /** Shown to the person before a recorded session starts (consent to recording). */
  consentText?: string;
  /** Telnet login/password/failure prompt patterns (regular expression sources). */
  telnetLoginPrompt?: string;
  telnetPasswordPrompt?: string;
  telnetFailurePattern?: string;
  /**
   * RDP redirection policy (Session Connector: "restrict what can be mapped"): false denies
   * clipboard, drive or printer redirection, in the .rdp file and at the gateway (the RDP
   * relay drops the channel or removes the devices). Absent = allowed.
   */
  rdpClipboard?: boolean;
  rdpDrives?: boolean;
  rdpPrinters?: boolean;
  /**
   * Session Connector "RDS Server Credentials": the secret a gateway node (its own
   * application account, which needs view access to it) fetches to do its work on the
   * RDS host. Only on session-connector launchers.
   */
  rdsServerCredentials?: string | null;
  [k: string]: unknown;
}

export const SESSION_CONNECTOR_OFF = 'Session Connector is off: an administrator turns on the setting "Session Connector" (sessionConnector) to create and launch session connector launchers.';

export const RDP_REDIRECTION_OPTIONS = ['rdpClipboard', 'rdpDrives', 'rdpPrinters'] as const;

// The redirection policy is read by the core (.rdp files) and the RDP door alike: one definition.
export { rdpRedirection } from '../door-rules.js';

export interface LauncherView {
  id: string;
  name: string;
  type: LauncherType;
  /** The protocol actually spoken: the type, or the child type of a session connector. */
  protocol: Protocol;
  childType: Protocol | null;
  gatewayHost: string | null;
  gatewayPort: number | null;
  active: boolean;
  builtin: boolean;
  record: boolean;
  recordKeystrokes: boolean;
  idleTimeoutSeconds: number;
  maxDurationSeconds: number;
  allowPortForwarding: boolean;
  options: LauncherOptions;
}

export interface LauncherInput {
  name?: string;
  type?: LauncherType;
  childType?: Protocol | null;
  gatewayHost?: string | null;
  gatewayPort?: number | null;
  active?: boolean;
  record?: boolean;
  recordKeystrokes?: boolean;
  idleTimeoutSeconds?: number;
  maxDurationSeconds?: number;
  allowPortForwarding?: boolean;
  options?: LauncherOptions;
}

const BUILTINS: { id: Protocol; name: string }[] = [
  { id: 'ssh', name: 'SSH' },
  { id: 'telnet', name: 'Telnet' },
  { id: 'rdp', name: 'Remote Desktop' },
];

function view(r: LaunchersTable): LauncherView {
  const protocol = (r.type === 'session-connector' ? r.childType : r.type) as Protocol;
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    protocol,
    childType: r.childType,
    gatewayHost: r.gatewayHost,
    gatewayPort: r.gatewayPort,
    active: !!r.active,
    builtin: !!r.builtin,
    record: !!r.record,
    recordKeystrokes: !!r.recordKeystrokes,
    idleTimeoutSeconds: r.idleTimeoutSeconds,
    maxDurationSeconds: r.maxDurationSeconds,
    allowPortForwarding: !!r.allowPortForwarding,
    options: parseJson<LauncherOptions>(r.options, {}),
  };
}

function checkRegex(name: string, v: unknown): void {
  if (v === undefined) return;
  if (typeof v !== 'string') throw badRequest(`options.${name} must be a string`);
  try {
    new RegExp(v, 'i');
  } catch {
    throw badRequest(`options.${name} is not a valid regular expression`);
  }
}

export class Launchers {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    /** The "Session Connector" setting; absent = on (tools that build a core piecemeal). */
    private readonly settings?: SettingsService,
  ) {}

  /** Whether session connector launchers are on (the setting "Session Connector"). */
  async sessionConnectorOn(): Promise<boolean> {
    return this.settings ? this.settings.get('sessionConnector') : true;
  }

  /** Whether a launcher may be used now: session connectors only while the setting is on. */
  async enabled(l: LauncherView): Promise<boolean> {
    return l.type !== 'session-connector' || (await this.sessionConnectorOn());
  }

  /** Refuses a session connector launcher while the setting is off (403 session_connector_disabled). */
  async requireEnabled(l: Pick<LauncherView, 'type'>): Promise<void> {
    if (l.type === 'session-connector' && !(await this.sessionConnectorOn())) throw new AppError(403, 'session_connector_disabled', SESSION_CONNECTOR_OFF);
  }

  async seedBuiltins(): Promise<void> {
    for (const b of BUILTINS) {
      const have = await this.store.db.selectFrom('launchers').select('id').where('id', '=', b.id).executeTakeFirst();
      if (have) continue;
      await this.store.db
        .insertInto('launchers')
        .values({
          id: b.id,
          name: b.name,
          type: b.id,
          childType: null,
          gatewayHost: null,
          gatewayPort: null,
          active: 1,
          builtin: 1,
          record: 1,
          recordKeystrokes: 1,
          idleTimeoutSeconds: 0,
          maxDurationSeconds: 0,
          allowPortForwarding: 0,
          options: '{}',
          createdAt: now(),
          updatedAt: now(),
        })
        .execute();
    }
  }

  async get(ref: string): Promise<LauncherView> {
    const r = await launcherByRef.first(this.store.db, { ref });
    if (!r) throw notFound(`launcher "${ref}"`);
    return view(r);
  }

  /** Every launcher; session connector launchers are hidden while the setting "Session Connector" is off. */
  async list(): Promise<LauncherView[]> {
    const rows = await this.store.db.selectFrom('launchers').selectAll().orderBy('builtin', 'desc').orderBy('name').execute();
    const on = await this.sessionConnectorOn();
    return rows.map(view).filter((l) => on || l.type !== 'session-connector');
  }

  /**
   * RDS Server Credentials: the credential of a session connector launcher for the gateway
   * node calling back with its own application account, which must hold view access to the
   * secret (the seed's "Application Account RDS Credential Sharing").
   */
  async rdsCredentialSecretId(id: string): Promise<{ launcher: LauncherView; secretId: string }> {
    const launcher = await this.get(id);
    await this.requireEnabled(launcher);
    const secretId = launcher.options.rdsServerCredentials;
    if (launcher.type !== 'session-connector' || !secretId) throw notFound('RDS Server Credentials of this launcher');
    return { launcher, secretId };
  }

  private async checkRdsCredentials(v: LauncherView): Promise<void> {
    const ref = v.options.rdsServerCredentials;
    if (ref === undefined || ref === null) return;
    if (v.type !== 'session-connector') throw badRequest('options.rdsServerCredentials (RDS Server Credentials) is only for session connector launchers');
    if (typeof ref !== 'string' || !(await this.store.db.selectFrom('secrets').select('id').where('id', '=', ref).executeTakeFirst())) {
      throw badRequest('options.rdsServerCredentials (RDS Server Credentials) must be the id of an existing secret', 'unknown_secret');
    }
  }

  private validate(v: LauncherView): void {
    if (v.type === 'session-connector') {
      if (!v.childType || !PROTOCOLS.includes(v.childType)) throw badRequest('a session connector launcher needs childType: ssh, telnet or rdp');
      if (!v.gatewayHost) throw badRequest('a session connector launcher needs gatewayHost (the host or cluster name clients connect to)');
    } else if (v.childType) throw badRequest('childType is only for session connector launchers');
    if (v.gatewayHost !== null && !/^[A-Za-z0-9.:[\]-]{1,253}$/.test(v.gatewayHost)) throw badRequest('gatewayHost must be a host name or IP address');
    if (v.gatewayPort !== null && (v.gatewayPort < 1 || v.gatewayPort > 65535)) throw badRequest('gatewayPort must be between 1 and 65535');
    checkRegex('telnetLoginPrompt', v.options.telnetLoginPrompt);
    checkRegex('telnetPasswordPrompt', v.options.telnetPasswordPrompt);
    checkRegex('telnetFailurePattern', v.options.telnetFailurePattern);
    for (const k of RDP_REDIRECTION_OPTIONS) if (v.options[k] !== undefined && typeof v.options[k] !== 'boolean') throw badRequest(`options.${k} must be true or false`);
  }

  async create(actor: Actor, input: LauncherInput & { name: string; type: LauncherType }): Promise<LauncherView> {
    if (input.type !== 'session-connector') throw badRequest('custom launchers are session connector launchers (type "session-connector" with a childType)');
    // "This launcher type will not be visible until the Configuration Advanced Setting is enabled."
    await this.requireEnabled(input);
    const clash = await this.store.db.selectFrom('launchers').select('id').where('name', '=', input.name).executeTakeFirst();
    if (clash) throw conflict(`launcher "${input.name}" already exists`);
    const row: LaunchersTable = {
      id: newId(),
      name: input.name,
      type: input.type,
      childType: input.childType ?? null,
      gatewayHost: input.gatewayHost ?? null,
      gatewayPort: input.gatewayPort ?? null,
      active: flag(input.active ?? true),
      builtin: 0,
      record: flag(input.record ?? true),
      recordKeystrokes: flag(input.recordKeystrokes ?? false),
      idleTimeoutSeconds: input.idleTimeoutSeconds ?? 0,
      maxDurationSeconds: input.maxDurationSeconds ?? 0,
      allowPortForwarding: flag(input.allowPortForwarding ?? false),
      options: JSON.stringify(input.options ?? {}),
      createdAt: now(),
      updatedAt: now(),
    };
    this.validate(view(row));
    await this.checkRdsCredentials(view(row));
    await this.store.db.insertInto('launchers').values(row).execute();
    await this.audit.record(actor, { action: 'launcher.create', target: { type: 'launcher', id: row.id }, details: { ...input } });
    return view(row);
  }

  async update(actor: Actor, id: string, input: LauncherInput): Promise<LauncherView> {
    const cur = await this.store.db.selectFrom('launchers').selectAll().where('id', '=', id).executeTakeFirst();
    if (!cur) throw notFound('launcher');
    if (cur.builtin && (input.type !== undefined || input.childType !== undefined || input.name !== undefined)) throw forbidden('the name and type of built-in launchers cannot change', 'builtin_launcher');
    if (input.type !== undefined && input.type !== cur.type) throw badRequest('a launcher type cannot change; create a new launcher');
    const next: LaunchersTable = {
      ...cur,
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.childType !== undefined ? { childType: input.childType } : {}),
      ...(input.gatewayHost !== undefined ? { gatewayHost: input.gatewayHost } : {}),
      ...(input.gatewayPort !== undefined ? { gatewayPort: input.gatewayPort } : {}),
      ...(input.active !== undefined ? { active: flag(input.active) } : {}),
      ...(input.record !== undefined ? { record: flag(input.record) } : {}),
      ...(input.recordKeystrokes !== undefined ? { recordKeystrokes: flag(input.recordKeystrokes) } : {}),
      ...(input.idleTimeoutSeconds !== undefined ? { idleTimeoutSeconds: input.idleTimeoutSeconds } : {}),
      ...(input.maxDurationSeconds !== undefined ? { maxDurationSeconds: input.maxDurationSeconds } : {}),
      ...(input.allowPortForwarding !== undefined ? { allowPortForwarding: flag(input.allowPortForwarding) } : {}),
      ...(input.options !== undefined ? { options: JSON.stringify(input.options) } : {}),
      updatedAt: now(),
    };
    this.validate(view(next));
    await this.checkRdsCredentials(view(next));
    if (next.name !== cur.name) {
      const clash = await this.store.db.selectFrom('launchers').select('id').where('name', '=', next.name).executeTakeFirst();
      if (clash) throw conflict(`launcher "${next.name}" already exists`);
    }
    const { id: _id, ...rest } = next;
    await this.store.db.updateTable('launchers').set(rest).where('id', '=', id).execute();
    await this.audit.record(actor, { action: 'launcher.update', target: { type: 'launcher', id }, details: { name: next.name, changes: input } });
    return view(next);
  }

  async remove(actor: Actor, id: string): Promise<void> {
    const cur = await this.get(id);
    if (cur.builtin) throw forbidden('built-in launchers cannot be deleted; deactivate them instead', 'builtin_launcher');
    await this.store.db.deleteFrom('launchers').where('id', '=', cur.id).execute();
    await this.audit.record(actor, { action: 'launcher.delete', target: { type: 'launcher', id: cur.id }, details: { name: cur.name } });
  }
}
