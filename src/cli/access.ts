// `gatehouse access …`: access request policies (administrators) and requests, approvals
// and revocations (everyone), through the API contract (docs/access-workflows.md).
import type { Command } from 'commander';
import { ACCESS_MODES, api, MFA_MODES, TICKET_REFERENCE, type AccessPolicy, type AccessRequest, type BodyInput } from '../web/contract/index.js';
import { ApiError, callApi, type CliState } from './client.js';

export interface CliHelpers {
  session(): CliState;
  out(v: unknown): void;
  table(rows: Record<string, unknown>[], cols: string[]): void;
  secretIdOf(ref: string): Promise<string>;
}

type Mode = (typeof ACCESS_MODES)[number];
type PolicyBody = BodyInput<typeof api.accessPolicies.update>;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const bad = (msg: string) => new ApiError(400, 'invalid_request', msg);
const collect = (v: string, prev: string[] = []) => [...prev, v];
const int = (what: string) => (v: string) => {
  if (!/^\d{1,7}$/.test(v)) throw bad(`${what} must be a whole number, got "${v}"`);
  return Number(v);
};
const modes = (v: string): Mode[] => {
  const list = v.split(',').map((m) => m.trim().toLowerCase());
  for (const m of list) if (!(ACCESS_MODES as readonly string[]).includes(m)) throw bad(`modes are ${ACCESS_MODES.join(', ')}; got "${m}"`);
  return list as Mode[];
};

/** "mon-fri 08:00-18:00 Europe/Berlin", "22:00-06:00" (every day, UTC), or "none". */
export function parseHours(v: string): PolicyBody['allowedHours'] {
  if (v === 'none') return null;
  const parts = v.trim().split(/\s+/);
  let days: number[] = [];
  if (parts[0] && /^[a-z]/i.test(parts[0])) {
    const spec = parts.shift()!.toLowerCase();
    for (const piece of spec.split(',')) {
      const [a, b] = piece.split('-');
      const from = DAYS.indexOf(a ?? '');
      const to = b === undefined ? from : DAYS.indexOf(b);
      if (from < 0 || to < 0) throw bad(`--hours: unknown day in "${spec}" (use sun … sat)`);
      for (let d = from; ; d = (d + 1) % 7) {
        if (!days.includes(d)) days.push(d);
        if (d === to) break;
      }
    }
    days = days.sort();
  }
  const m = /^(\d\d:\d\d)-(\d\d:\d\d)$/.exec(parts.shift() ?? '');
  if (!m) throw bad('--hours expects e.g. "mon-fri 08:00-18:00 Europe/Berlin" or "none"');
  return { days, from: m[1]!, to: m[2]!, timeZone: parts.shift() ?? 'UTC' };
}

interface PolicyOpts {
  description?: string;
  approver?: string[];
  approverGroup?: string[];
  approvals?: number;
  preApproved?: string[];
  preApprovedGroup?: string[];
  defaultWindow?: number;
  maxWindow?: number;
  hours?: string;
  modes?: string;
  mfa?: string;
  trustedNetwork?: string[];
  mfaMaxAge?: number;
  recordingRequired?: boolean;
  consentText?: string;
  checkoutRequired?: boolean;
  rotateAfterUse?: boolean;
  reasonRequired?: boolean;
  ticketReference?: string;
}

function policyBody(o: PolicyOpts): PolicyBody {
  const principals = (users?: string[], groups?: string[]) =>
    users || groups ? [...(users ?? []).map((p) => ({ principalType: 'user' as const, principal: p })), ...(groups ?? []).map((p) => ({ principalType: 'group' as const, principal: p }))] : undefined;
  const oneOf = <T extends string>(what: string, v: string | undefined, allowed: readonly T[]): T | undefined => {
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) throw bad(`${what} is one of ${allowed.join(', ')}; got "${v}"`);
    return v as T;
  };
  const b: PolicyBody = {
    description: o.description,
    approvers: principals(o.approver, o.approverGroup),
    approvalsRequired: o.approvals,
    preApproved: principals(o.preApproved, o.preApprovedGroup),
    defaultWindowMinutes: o.defaultWindow,
    maxWindowMinutes: o.maxWindow,
    allowedHours: o.hours === undefined ? undefined : parseHours(o.hours),
    allowedModes: o.modes === undefined ? undefined : modes(o.modes),
    mfa: oneOf('--mfa', o.mfa, MFA_MODES),
    trustedNetworks: o.trustedNetwork,
    mfaMaxAgeMinutes: o.mfaMaxAge,
    recordingRequired: o.recordingRequired,
    consentText: o.consentText,
    checkoutRequired: o.checkoutRequired,
    rotateAfterUse: o.rotateAfterUse,
    reasonRequired: o.reasonRequired,
    ticketReference: oneOf('--ticket-reference', o.ticketReference, TICKET_REFERENCE),
  };
  return Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)) as PolicyBody;
}

function policyOptions(c: Command): Command {
  return c
    .option('--description <text>')
    .option('--approver <user>', 'an approver (repeatable)', collect)
    .option('--approver-group <group>', 'a group whose members approve (repeatable)', collect)
    .option('--approvals <n>', 'approvals a request needs (N of M)', int('--approvals'))
    .option('--pre-approved <user>', 'launches without a request (repeatable)', collect)
    .option('--pre-approved-group <group>', 'a group whose members launch without a request (repeatable)', collect)
    .option('--default-window <minutes>', 'window length when a request names no end', int('--default-window'))
    .option('--max-window <minutes>', 'longest window a request may ask for', int('--max-window'))
    .option('--hours <spec>', 'allowed hours: "mon-fri 08:00-18:00 Europe/Berlin", or "none"')
    .option('--modes <list>', `allowed modes, comma-separated (${ACCESS_MODES.join(', ')})`)
    .option('--mfa <when>', `step-up MFA: ${MFA_MODES.join(', ')}`)
    .option('--trusted-network <cidr>', 'a network where --mfa untrusted asks for none (repeatable)', collect)
    .option('--mfa-max-age <minutes>', 'how fresh the step-up must be', int('--mfa-max-age'))
    .option('--recording-required', 'sessions must be recorded')
    .option('--consent-text <text>', 'consent to recording shown before the session')
    .option('--checkout-required', 'exclusive checkout of the credential')
    .option('--rotate-after-use', "rotate the password of the policy's managed secrets after each use")
    .option('--no-reason-required', 'requests need no reason')
    .option('--ticket-reference <when>', `ticket-system reference: ${TICKET_REFERENCE.join(', ')}`);
}

const principalsText = (list: AccessPolicy['approvers']) => list.map((p) => `${p.principalType === 'group' ? '@' : ''}${p.principalName ?? p.principalId}`).join(',');
const requestRow = (r: AccessRequest) => ({
  id: r.id,
  secret: r.secret.name,
  requester: r.requester.name,
  status: r.status,
  approvals: `${r.decisions.filter((d) => d.decision === 'approve').length}/${r.approvalsRequired}`,
  start: r.start,
  end: r.end,
  reason: r.reason,
});

export function registerAccessCommands(program: Command, h: CliHelpers): void {
  const access = program.command('access').description('access request policies, requests, approvals and grants');

  registerLevelCommands(access, h);

  const policies = access.command('policies').description('access request policies (administrators)');
  policies
    .command('list')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(h.session(), api.accessPolicies.list, { query: { limit: 500 } });
      if (o.json) return h.out(r);
      h.table(
        r.items.map((p) => ({ name: p.name, approvers: principalsText(p.approvers), approvals: p.approvalsRequired, 'pre-approved': principalsText(p.preApproved), window: `${p.defaultWindowMinutes}/${p.maxWindowMinutes} min`, modes: p.allowedModes.join(','), id: p.id })),
        ['name', 'approvers', 'approvals', 'pre-approved', 'window', 'modes', 'id'],
      );
    });
  policies.command('get <policy>').action(async (id: string) => h.out(await callApi(h.session(), api.accessPolicies.get, { params: { id } })));
  policyOptions(policies.command('create <name>').description('create a policy')).action(async (name: string, o: PolicyOpts) =>
    h.out(await callApi(h.session(), api.accessPolicies.create, { body: { ...policyBody(o), name } })),
  );
  policyOptions(policies.command('update <policy>').description('change a policy (only the options given)')).action(async (id: string, o: PolicyOpts, cmd: Command) => {
    // --no-reason-required defaults reasonRequired to true: send it only when the flag was given.
    const body = policyBody(o);
    if (cmd.getOptionValueSource('reasonRequired') !== 'cli') delete body.reasonRequired;
    h.out(await callApi(h.session(), api.accessPolicies.update, { params: { id }, body }));
  });
  policies.command('delete <policy>').action(async (id: string) => {
    await callApi(h.session(), api.accessPolicies.remove, { params: { id } });
    process.stdout.write(`deleted ${id}\n`);
  });
  policies
    .command('attach <policy>')
    .description('attach a policy to a secret or a folder ("none" detaches)')
    .option('--secret <secret>', 'secret id or name')
    .option('--folder <id>', 'folder id')
    .action(async (policy: string, o: { secret?: string; folder?: string }) => {
      if (!o.secret === !o.folder) throw bad('give exactly one of --secret or --folder');
      const policyId = policy === 'none' ? null : policy;
      if (o.secret) {
        const s = await callApi(h.session(), api.secrets.update, { params: { id: await h.secretIdOf(o.secret) }, body: { policyId } });
        process.stdout.write(`${s.name}: ${policyId ? `policy ${policy}` : 'no policy of its own'}\n`);
      } else {
        const f = await callApi(h.session(), api.folders.update, { params: { id: o.folder! }, body: { policyId } });
        process.stdout.write(`folder ${f.name}: ${policyId ? `policy ${policy}` : 'no policy of its own'}\n`);
      }
    });

  access
    .command('request <secret>')
    .description('request access to a secret under a policy')
    .option('-r, --reason <text>', 'why you need it')
    .option('--start <time>', 'ISO 8601 start (default: now)')
    .option('--end <time>', "ISO 8601 end (default: the policy's window length)")
    .option('--for <minutes>', 'window length in minutes from the start', int('--for'))
    .option('--mode <mode>', 'a mode you need (repeatable; default: every mode the policy allows)', collect)
    .option('--ticket-ref <ref>', 'ticket-system reference')
    .option('--json')
    .action(async (ref: string, o: { reason?: string; start?: string; end?: string; for?: number; mode?: string[]; ticketRef?: string; json?: boolean }) => {
      if (o.end && o.for !== undefined) throw bad('give --end or --for, not both');
      const start = o.start ? Date.parse(o.start) : Date.now();
      if (Number.isNaN(start)) throw bad(`--start is not a date and time: "${o.start}"`);
      const end = o.for !== undefined ? new Date(start + o.for * 60_000).toISOString() : o.end;
      const r = await callApi(h.session(), api.accessRequests.create, {
        body: {
          secretId: await h.secretIdOf(ref),
          ...(o.reason !== undefined ? { reason: o.reason } : {}),
          ...(o.start ? { start: o.start } : o.for !== undefined ? { start: new Date(start).toISOString() } : {}),
          ...(end ? { end } : {}),
          ...(o.mode ? { modes: o.mode.flatMap(modes) } : {}),
          ...(o.ticketRef ? { ticketRef: o.ticketRef } : {}),
        },
      });
      if (o.json) return h.out(r);
      process.stdout.write(
        r.status === 'approved'
          ? `request ${r.id}: approved (pre-approved); you may launch ${r.secret.name} from ${r.start} until ${r.end}\n`
          : `request ${r.id}: pending, ${r.approvalsRequired} approval(s) needed; see it with \`gatehouse access list\`\n`,
      );
    });
  access
    .command('list')
    .description('your requests; --pending: those waiting for your decision; --all: everyone\'s (administrators)')
    .option('--pending')
    .option('--all')
    .option('--json')
    .action(async (o: { pending?: boolean; all?: boolean; json?: boolean }) => {
      const scope = o.all ? 'all' : o.pending ? 'approve' : 'mine';
      const r = await callApi(h.session(), api.accessRequests.list, { query: { scope, limit: 500 } });
      if (o.json) return h.out(r);
      h.table(r.items.map(requestRow), ['id', 'secret', 'requester', 'status', 'approvals', 'start', 'end', 'reason']);
    });
  access.command('show <id>').action(async (id: string) => h.out(await callApi(h.session(), api.accessRequests.get, { params: { id } })));
  const decide = (name: 'approve' | 'deny' | 'revoke', what: string) =>
    access
      .command(`${name} <id>`)
      .description(what)
      .option('-c, --comment <text>')
      .action(async (id: string, o: { comment?: string }) => {
        const r = await callApi(h.session(), api.accessRequests[name], { params: { id }, body: o.comment ? { comment: o.comment } : {} });
        process.stdout.write(`request ${r.id} (${r.requester.name} → ${r.secret.name}): ${r.status}\n`);
      });
  decide('approve', 'approve a pending request');
  decide('deny', 'deny a pending request');
  decide('revoke', 'revoke a grant early (ending its sessions), or withdraw your pending request');
}

interface LevelOpts {
  description?: string;
  group?: string[];
  sudoers?: string;
  needsApproval?: boolean;
  preApprovedUser?: string[];
  preApprovedGroup?: string[];
  secret?: string[];
  folder?: string[];
}

/** `gatehouse access levels …`: access levels (issue 12; docs/target-accounts.md "Access levels"). */
function registerLevelCommands(access: Command, h: CliHelpers): void {
  const levels = access.command('levels').description('access levels: target groups a session gets (administrators; `usable` for everyone)');
  const options = (c: Command) =>
    c
      .option('--description <text>')
      .option('--group <group>', 'a Linux group name or LDAP group DN (repeatable; replaces the list)', collect)
      .option('--sudoers <text>', 'Linux sudoers drop-in body; {account} stands for the account name ("none" removes it)')
      .option('--needs-approval', 'people not pre-approved may use it with an approved access request naming it')
      .option('--pre-approved-user <user>', 'repeatable; replaces the list', collect)
      .option('--pre-approved-group <group>', 'repeatable; replaces the list', collect)
      .option('--secret <secret>', 'a secret it applies to (repeatable; replaces the list)', collect)
      .option('--folder <folder>', 'a folder id it applies to, with everything below (repeatable; replaces the list)', collect);
  const bodyOf = async (o: LevelOpts) => ({
    ...(o.description !== undefined ? { description: o.description } : {}),
    ...(o.group ? { targetGroups: o.group } : {}),
    ...(o.sudoers !== undefined ? { sudoers: o.sudoers === 'none' ? null : o.sudoers } : {}),
    ...(o.needsApproval ? { needsApproval: true } : {}),
    ...(o.preApprovedUser || o.preApprovedGroup
      ? { preApproved: [...(o.preApprovedUser ?? []).map((principal) => ({ principalType: 'user' as const, principal })), ...(o.preApprovedGroup ?? []).map((principal) => ({ principalType: 'group' as const, principal }))] }
      : {}),
    ...(o.secret ? { secretIds: await Promise.all(o.secret.map((s) => h.secretIdOf(s))) } : {}),
    ...(o.folder ? { folderIds: o.folder } : {}),
  });
  levels
    .command('list')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(h.session(), api.accessLevels.list, { query: { limit: 500 } });
      if (o.json) return h.out(r);
      h.table(
        r.items.map((l) => ({ name: l.name, groups: l.targetGroups.join(','), sudoers: l.sudoers ? 'yes' : '', approval: l.needsApproval ? 'needed' : '', 'pre-approved': principalsText(l.preApproved), id: l.id })),
        ['name', 'groups', 'sudoers', 'approval', 'pre-approved', 'id'],
      );
    });
  levels.command('get <level>').action(async (id: string) => h.out(await callApi(h.session(), api.accessLevels.get, { params: { id } })));
  options(levels.command('create <name>').description('create an access level')).action(async (name: string, o: LevelOpts) => h.out(await callApi(h.session(), api.accessLevels.create, { body: { ...(await bodyOf(o)), name } })));
  options(levels.command('update <level>').description('change an access level (only the options given)')).action(async (id: string, o: LevelOpts) =>
    h.out(await callApi(h.session(), api.accessLevels.update, { params: { id }, body: await bodyOf(o) })),
  );
  levels.command('delete <level>').action(async (id: string) => {
    await callApi(h.session(), api.accessLevels.remove, { params: { id } });
    process.stdout.write(`deleted ${id}\n`);
  });
  levels
    .command('usable <secret>')
    .description('the access levels of a secret you may choose at launch (gatehouse launch --access-level)')
    .option('--json')
    .action(async (ref: string, o: { json?: boolean }) => {
      const r = await callApi(h.session(), api.accessLevels.forSecret, { params: { id: await h.secretIdOf(ref) }, query: { limit: 500 } });
      if (o.json) return h.out(r);
      h.table(r.items.map((l) => ({ name: l.name, groups: l.targetGroups.join(','), description: l.description })), ['name', 'groups', 'description']);
    });
}
