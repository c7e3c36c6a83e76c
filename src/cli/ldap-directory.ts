// `gatehouse directory ldap test|sync|show`: the LDAP / Active Directory directory (issue 15
// point 2) from the command line — check the connection and the service bind, sync users and
// groups now, print the settings and the last sync. Administrators only (the API says so).
// See docs/identity.md.
import type { Command } from 'commander';
import { api } from '../web/contract/index.js';
import { callApi } from './client.js';
import type { CliKit } from './personal.js';

export function registerLdapDirectory(program: Command, kit: Pick<CliKit, 'session' | 'out'>): void {
  const ldap = program.command('directory').description('identity sources outside Gatehouse').command('ldap').description('the LDAP / Active Directory directory (docs/identity.md)');
  ldap
    .command('test')
    .description('connect, bind as the service account and count users and groups; exit 1 when it fails')
    .option('--json', 'print the whole response')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.ldapDirectory.test, {});
      if (o.json) kit.out(r);
      else process.stdout.write(r.ok ? `ok: ${r.message}; ${r.users} users, ${r.groups} groups\n` : `failed: ${r.message}\n`);
      if (!r.ok) process.exitCode = 1;
    });
  ldap
    .command('sync')
    .description('sync users and groups from the directory now; exit 1 when it fails')
    .option('--json', 'print the whole response')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.ldapDirectory.sync, {});
      if (o.json) kit.out(r);
      else if (!r.ok) process.stdout.write(`failed: ${r.error}\n`);
      else {
        const list = (a: string[]) => (a.length ? a.join(', ') : '-');
        process.stdout.write(
          `${r.users} directory users; created: ${list(r.created)}; disabled: ${list(r.disabled)}; enabled again: ${list(r.enabled)}; group membership changes: ${r.groupChanges}; sessions terminated: ${r.terminatedSessions}\n` +
            (r.conflicts.length ? `left alone (local accounts of the same name): ${list(r.conflicts)}\n` : '') +
            (r.skipped.length ? `left out (not valid Gatehouse user names): ${list(r.skipped)}\n` : '') +
            (r.unknownGroups.length ? `mapped Gatehouse groups that do not exist: ${list(r.unknownGroups)}\n` : ''),
        );
      }
      if (!r.ok) process.exitCode = 1;
    });
  ldap
    .command('show')
    .description('the settings (the bind password is a vault secret reference) and the last sync')
    .action(async () => kit.out(await callApi(kit.session(), api.ldapDirectory.get, {})));
}
