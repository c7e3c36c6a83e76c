// `gatehouse secrets rotate|heartbeat|versions|reveal-version <secret>` (issue 12): rotate a
// secret's password on its target now, check that the stored password still works, and
// look at (or, as an owner, recover) its earlier values.
import type { Command } from 'commander';
import { api } from '../web/contract/index.js';
import { ApiError, callApi, type CliState } from './client.js';

export function registerAccountCommands(secrets: Command, session: () => CliState): void {
  const idOf = async (ref: string): Promise<string> => {
    const r = await callApi(session(), api.secrets.list, { query: { limit: 500, search: ref } });
    return r.items.find((x) => x.id === ref || x.name === ref)?.id ?? ref;
  };
  const json = (v: unknown) => void process.stdout.write(JSON.stringify(v, null, 2) + '\n');

  secrets
    .command('rotate <secret>')
    .description("rotate the secret's password on its target now: generated, changed, verified by logging in, then stored (the old value kept as a version)")
    .option('--json', 'print the whole response')
    .action(async (ref: string, o: { json?: boolean }) => {
      const r = await callApi(session(), api.accounts.rotate, { params: { id: await idOf(ref) } });
      if (o.json) json(r);
      else process.stdout.write(`rotated: the password is now version ${r.version} (${r.at})\n`);
    });
  secrets
    .command('heartbeat <secret>')
    .description('log in to the target with the stored credential now: ok, drift (it no longer works) or unreachable')
    .option('--json', 'print the whole response')
    .action(async (ref: string, o: { json?: boolean }) => {
      const r = await callApi(session(), api.accounts.heartbeat, { params: { id: await idOf(ref) } });
      if (o.json) json(r);
      else process.stdout.write(`${r.status}${r.message ? `: ${r.message}` : ''} (${r.at})\n`);
    });
  secrets
    .command('versions <secret>')
    .description("earlier versions of a secret's values (metadata only)")
    .action(async (ref: string) => json(await callApi(session(), api.accounts.versions, { params: { id: await idOf(ref) }, query: { limit: 500 } })));
  secrets
    .command('reveal-version <secret> <version>')
    .description("an earlier version's values, for recovery (owner only; audited)")
    .action(async (ref: string, v: string) => {
      const version = Number(v);
      if (!Number.isInteger(version) || version < 1) throw new ApiError(400, 'invalid_request', `<version> must be a whole number from 1, got "${v}"`);
      json(await callApi(session(), api.accounts.revealVersion, { params: { id: await idOf(ref) }, body: { version } }));
    });
}
