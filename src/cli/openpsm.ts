// `gatehouse openpsm link <secret>` (IAM side: the /start URL on the configured gateway for
// one of your secrets, to open in a browser) and `gatehouse openpsm notices` (gateway side:
// the endsession calls owed, delivered or abandoned). See docs/integrations/openpsm.md.
import type { Command } from 'commander';
import { api, OPENPSM_MODES } from '../web/contract/index.js';
import { ApiError, callApi } from './client.js';
import type { CliKit } from './personal.js';

export function registerOpenPsm(program: Command, kit: CliKit): void {
  const psm = program.command('openpsm').description('the OpenPSM start flow (EmpowerID seed): /start links and endsession notices');
  psm
    .command('link <secret>')
    .description('print the /start URL on the gateway (setting openpsmGatewayUrl) for one of your secrets; it holds a short-lived access token')
    .option('-m, --mode <mode>', `connection mode: ${OPENPSM_MODES.join(', ')}`, 'SSH')
    .option('--personal <id>', 'use one of your personal credentials instead of the shared one')
    .option('--json', 'print the whole response')
    .action(async (ref: string, o: { mode: string; personal?: string; json?: boolean }) => {
      const mode = OPENPSM_MODES.find((m) => m.toLowerCase() === o.mode.toLowerCase());
      if (!mode) throw new ApiError(400, 'invalid_request', `--mode must be one of ${OPENPSM_MODES.join(', ')}`);
      const r = await callApi(kit.session(), api.openpsm.link, { body: { secretId: await kit.secretIdOf(ref), mode, ...(o.personal ? { personalCredentialId: o.personal } : {}) } });
      if (o.json) return kit.out(r);
      process.stdout.write(`${r.url}\n`);
      process.stderr.write(`open it in a browser before ${r.expiresAt} (LoginSessionID ${r.loginSessionId})\n`);
    });
  psm
    .command('notices')
    .description('the endsession calls this gateway owes, delivered or abandoned (needs audit)')
    .option('--json', 'print the whole response')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.openpsm.endNotices, { query: { limit: 200 } });
      if (o.json) return kit.out(r);
      kit.table(r.items.map((n) => ({ ...n, outcome: n.outcome ?? (n.due ? 'retrying' : 'session live') })), ['session', 'loginSessionId', 'apiUrl', 'attempts', 'unauthorized', 'outcome', 'lastError']);
    });
}
