// `gatehouse logon-tickets key` and `gatehouse logon-tickets rotate-key`: the logon-ticket RSA
// key of TSplus-compatible logon tickets (seed 004). See docs/integrations/logon-tickets.md.
import type { Command } from 'commander';
import { api } from '../web/contract/index.js';
import { callApi } from './client.js';
import type { CliKit } from './personal.js';

export function registerLogonTickets(program: Command, kit: CliKit): void {
  const lt = program.command('logon-tickets').description('TSplus-compatible logon tickets (seed 004): the logon-ticket RSA key');
  lt.command('key')
    .description('the SHA-256 fingerprint and size of the logon-ticket RSA key (needs administer)')
    .option('--json', 'print the whole response')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.logonTickets.key, {});
      if (o.json) return kit.out(r);
      process.stdout.write(`${r.fingerprint} (RSA ${r.bits})\n`);
    });
  lt.command('rotate-key')
    .description('make a new logon-ticket RSA key; portals must fetch the public key again (requests encrypted with the old one are refused)')
    .option('--json', 'print the whole response')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.logonTickets.rotateKey, {});
      if (o.json) return kit.out(r);
      process.stdout.write(`logon-ticket key rotated: ${r.previousFingerprint} -> ${r.fingerprint}\n`);
    });
}
