// `gatehouse retention …` and `gatehouse recording hold|release|holds`: recording retention
// policies and legal holds (issue 16 point 4) from the command line, over the API
// (contract/retention.ts; rules in core/sessions/retention.ts, docs/operations.md). Policies
// are named by their scope (`global`, `folder <id>`, `launcher <id>`), as the API keeps one
// per scope; a policy id works too. Permissions are the API's: `administer` to change
// policies, `audit` to read them and to hold or release.
import type { Command } from 'commander';
import { api, RETENTION_SCOPES, MAX_KEEP_DAYS } from '../web/contract/index.js';
import type { Ok } from '../web/contract/route.js';
import { callApi } from './client.js';
import type { CliKit } from './personal.js';

type Policy = Ok<typeof api.retention.set>;
type Hold = Ok<typeof api.retention.hold>;
type Scope = (typeof RETENTION_SCOPES)[number];

const policyLine = (p: Policy) => `${p.scope}\t${p.scopeId ?? '-'}\t${p.keepDays} days\t${p.id}\n`;
const holdLine = (h: Hold) => `${h.sessionId}\t${h.createdAt}\t${h.by.username}\t${h.reason}\n`;

const isScope = (s: string): s is Scope => (RETENTION_SCOPES as readonly string[]).includes(s);

/** A scope and its id from the command line: `global`, or `folder <id>` / `launcher <id>`. */
function scopeOf(scope: string, scopeId: string | undefined): { scope: Scope; scopeId?: string } {
  if (!isScope(scope)) throw new Error(`the scope is one of ${RETENTION_SCOPES.join(', ')}, not "${scope}"`);
  if (scope === 'global') {
    if (scopeId) throw new Error('the global policy has no scope id');
    return { scope };
  }
  if (!scopeId) throw new Error(`a ${scope} policy needs the ${scope}'s id: gatehouse retention set ${scope} <id> --days N`);
  return { scope, scopeId };
}

function days(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_KEEP_DAYS) throw new Error(`--days is a whole number of days from 1 to ${MAX_KEEP_DAYS}, not "${v}"`);
  return n;
}

export function registerRetention(program: Command, recording: Command, kit: Pick<CliKit, 'session' | 'out'>): void {
  const policies = async (): Promise<Policy[]> => (await callApi(kit.session(), api.retention.list, { query: { limit: 500 } })).items;

  const retention = program.command('retention').description('recording retention policies: keep recordings N days after their session ended (docs/operations.md#retention-and-legal-hold)');
  retention
    .command('list', { isDefault: true })
    .description('every policy: scope, scope id, days kept, policy id (where several apply to a session the longest wins)')
    .option('--json', 'print the whole response')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.retention.list, { query: { limit: 500 } });
      if (o.json) kit.out(r);
      else for (const p of r.items) process.stdout.write(policyLine(p));
    });
  retention
    .command('set <scope> [scopeId]')
    .description('keep recordings N days after their session ended: `global`, `folder <folderId>` (and the folders under it) or `launcher <launcherId>`; setting a scope again changes its days')
    .requiredOption('--days <n>', 'days to keep')
    .action(async (scope: string, scopeId: string | undefined, o: { days: string }) => {
      const p = await callApi(kit.session(), api.retention.set, { body: { ...scopeOf(scope, scopeId), keepDays: days(o.days) } });
      process.stdout.write(policyLine(p));
    });
  retention
    .command('delete <scopeOrId> [scopeId]')
    .description('remove a policy, named by its scope (`global`, `folder <id>`, `launcher <id>`) or its id')
    .action(async (ref: string, scopeId: string | undefined) => {
      const all = await policies();
      const want = isScope(ref) ? scopeOf(ref, scopeId) : null;
      const p = want ? all.find((x) => x.scope === want.scope && (x.scopeId ?? undefined) === want.scopeId) : all.find((x) => x.id === ref);
      if (!p) throw new Error(want ? `no ${want.scope} retention policy${want.scopeId ? ` for ${want.scopeId}` : ''}` : `no retention policy ${ref}`);
      await callApi(kit.session(), api.retention.remove, { params: { id: p.id } });
      process.stdout.write(`deleted ${policyLine(p)}`);
    });
  retention
    .command('sweep')
    .description('delete now every recording no policy keeps any longer and no legal hold keeps (the server also sweeps hourly)')
    .option('--json', 'print the whole response')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.retention.sweep, { body: {} });
      if (o.json) return kit.out(r);
      for (const d of r.deleted) process.stdout.write(`deleted\t${d.sessionId}\t${d.file}\tkept ${d.keepDays} days\n`);
      process.stdout.write(`${r.deleted.length} deleted, ${r.held} kept by a legal hold${r.failed ? `, ${r.failed} failed (the server log says why; the next sweep tries again)` : ''}\n`);
    });

  recording
    .command('hold <sessionId>')
    .description("put a session's recording on legal hold: no retention policy deletes it until it is released")
    .requiredOption('-r, --reason <text>', 'why (a case number…), kept with the hold and in the audit trail')
    .action(async (sessionId: string, o: { reason: string }) => {
      const h = await callApi(kit.session(), api.retention.hold, { params: { id: sessionId }, body: { reason: o.reason } });
      process.stdout.write(`held ${holdLine(h)}`);
    });
  recording
    .command('release <sessionId>')
    .description('release a legal hold: retention applies to the recording again')
    .action(async (sessionId: string) => {
      await callApi(kit.session(), api.retention.release, { params: { id: sessionId } });
      process.stdout.write(`released ${sessionId}\n`);
    });
  recording
    .command('holds')
    .description('sessions on legal hold: session, since, by whom, reason')
    .option('--json', 'print the whole response')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.retention.holds, { query: { limit: 500 } });
      if (o.json) kit.out(r);
      else for (const h of r.items) process.stdout.write(holdLine(h));
    });
}
