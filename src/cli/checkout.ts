// `gatehouse secrets checkout|checkin|checkout-status|checkout-queue <secret>` (also spelled
// `gatehouse secret …`): exclusive checkout of shared credentials from the command line.
import type { Command } from 'commander';
import { api, type CheckoutStatus } from '../web/contract/index.js';
import { ApiError, callApi, type CliState } from './client.js';

/** "90", "90s", "30m", "2h", "1d" → seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,7})\s*([smhd]?)$/.exec(text.trim());
  if (!m) throw new ApiError(400, 'invalid_request', `--duration expects seconds or a number with s, m, h or d (e.g. 30m, 2h), got "${text}"`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

/** One line per fact, for people; --json prints the answer as it is. */
export function describeCheckout(s: CheckoutStatus): string {
  const lines: string[] = [];
  if (s.holder) lines.push(`checked out by ${s.mine ? 'you' : s.holder.name} (${s.source}) since ${s.since} until ${s.until}${s.reason ? `: ${s.reason}` : ''}`);
  else lines.push(s.myTurn ? `available, and held for you until ${s.queue[0]?.reservedUntil}: check it out or launch now` : 'available');
  if (s.required) lines.push('launching it checks it out until the session ends');
  s.queue.forEach((q, i) => lines.push(`  ${i + 1}. ${q.user.name} (since ${q.joinedAt}${q.reservedUntil ? `, turn held until ${q.reservedUntil}` : ''})`));
  if (s.queuePosition) lines.push(`you are number ${s.queuePosition} in the queue`);
  return lines.join('\n') + '\n';
}

export function registerCheckoutCommands(secrets: Command, session: () => CliState): void {
  // The issue spells it `gatehouse secret checkout`; both spellings work.
  if (!secrets.aliases().includes('secret')) secrets.alias('secret');
  const idOf = async (ref: string): Promise<string> => {
    const r = await callApi(session(), api.secrets.list, { query: { limit: 500, search: ref } });
    return r.items.find((x) => x.id === ref || x.name === ref)?.id ?? ref;
  };
  const show = (s: CheckoutStatus, json?: boolean) => void process.stdout.write(json ? JSON.stringify(s, null, 2) + '\n' : describeCheckout(s));

  secrets
    .command('checkout <secret>')
    .description('check a secret out: nobody else may launch it until you check it in or it expires')
    .option('-r, --reason <text>', 'why (shown to others and audited)')
    .option('-d, --duration <time>', 'how long: seconds, or e.g. 30m, 2h, 1d (default 1h, at most 7d)')
    .option('--json', 'print the whole response')
    .action(async (ref: string, o: { reason?: string; duration?: string; json?: boolean }) => {
      const body = { ...(o.reason ? { reason: o.reason } : {}), ...(o.duration ? { durationSeconds: parseDuration(o.duration) } : {}) };
      show(await callApi(session(), api.checkout.take, { params: { id: await idOf(ref) }, body }), o.json);
    });
  secrets
    .command('checkin <secret>')
    .description("check a secret in (yours; an administrator of the secret may force someone else's, which ends their sessions on it)")
    .option('--json', 'print the whole response')
    .action(async (ref: string, o: { json?: boolean }) => show(await callApi(session(), api.checkout.checkin, { params: { id: await idOf(ref) } }), o.json));
  secrets
    .command('checkout-status <secret>')
    .description("who holds a secret, until when, and who waits for it")
    .option('--json', 'print the whole response')
    .action(async (ref: string, o: { json?: boolean }) => show(await callApi(session(), api.checkout.status, { params: { id: await idOf(ref) } }), o.json));
  secrets
    .command('checkout-queue <secret>')
    .description('queue for a secret someone else holds (--leave to leave the queue)')
    .option('--leave', 'leave the queue')
    .option('--json', 'print the whole response')
    .action(async (ref: string, o: { leave?: boolean; json?: boolean }) => {
      const id = await idOf(ref);
      if (o.leave) {
        await callApi(session(), api.checkout.leave, { params: { id } });
        return void process.stdout.write('left the queue\n');
      }
      show(await callApi(session(), api.checkout.join, { params: { id } }), o.json);
    });
}
