// `gatehouse ecm …`: the credential-provider API for an Endpoint Credential Manager from the
// command line (seeds 001/002): Test Settings (`ecm test --user 'DOMAIN\name' --endpoint
// host`, the plugin's button; unsaved settings may be tried with options), the token cache
// and Clear Token Cache, and a person's Manage Applications (list, approve, deny, revoke).
// No command prints a secret value: retrieval is for the ECM's own calls.
import type { Command } from 'commander';
import { api } from '../web/contract/index.js';
import { callApi } from './client.js';
import type { CliKit } from './personal.js';

interface TestOptions {
  user: string;
  endpoint: string;
  application?: string;
  organization?: string;
  machineField?: string;
  domainField?: string;
  includeDomainCredentialsFor?: string;
  defaultDomain?: string;
  fallback?: boolean;
  includeDefaultOrganization?: boolean;
  json?: boolean;
}

export function registerEcm(program: Command, kit: CliKit): void {
  const ecm = program.command('ecm').description('credential-provider API for an Endpoint Credential Manager (BeyondTrust / Bomgar ECM)');

  ecm
    .command('test')
    .description('Test Settings: the credentials the ECM would be offered for a user on an endpoint (never a password), or that approval is pending')
    .requiredOption('--user <id>', "the user: user1, DOMAIN\\username or username@domain")
    .requiredOption('--endpoint <host>', 'the machine name or address')
    .option('--application <name>', 'the ECM application account to test as (administrators; default: yourself when you are the application)')
    .option('--organization <name>', 'organization of the user')
    .option('--machine-field <field>', 'try this Machine Field instead of the saved one')
    .option('--domain-field <field>', 'try this Domain Field instead of the saved one')
    .option('--include-domain-credentials-for <domains>', 'try these domains (comma-separated) instead of the saved ones')
    .option('--default-domain <domain>', 'try this Default Domain for Local Users instead of the saved one')
    .option('--fallback', 'try with "Enable fall-back to local account if domain account not found" on')
    .option('--include-default-organization', 'try with "Include default organization" on')
    .option('--json', 'print the whole answer')
    .action(async (o: TestOptions) => {
      const settings = {
        ...(o.machineField !== undefined ? { webservicesMachineField: o.machineField } : {}),
        ...(o.domainField !== undefined ? { webservicesDomainField: o.domainField } : {}),
        ...(o.includeDomainCredentialsFor !== undefined ? { webservicesIncludeDomainCredentialsFor: o.includeDomainCredentialsFor } : {}),
        ...(o.defaultDomain !== undefined ? { webservicesDefaultDomain: o.defaultDomain } : {}),
        ...(o.fallback ? { webservicesFallbackToLocal: true } : {}),
        ...(o.includeDefaultOrganization ? { webservicesIncludeDefaultOrganization: true } : {}),
      };
      const r = await callApi(kit.session(), api.webservices.test, {
        body: {
          user: o.user,
          endpoint: o.endpoint,
          ...(o.application ? { application: o.application } : {}),
          ...(o.organization ? { organization: o.organization } : {}),
          ...(Object.keys(settings).length ? { settings } : {}),
        },
      });
      if (o.json) return kit.out(r);
      process.stdout.write(`${r.message}\n`);
      if (r.user) process.stdout.write(`user: ${r.user.username} (matched as ${r.user.matchedAs})${r.application ? `; application: ${r.application.name}; approval: ${r.approval}` : ''}\n`);
      if (r.credentials.length) kit.table(r.credentials.map((c) => ({ ...c, username: c.username ?? '', domain: c.domain ?? '', machine: c.machine ?? '' })), ['name', 'kind', 'username', 'domain', 'machine', 'template']);
    });

  ecm
    .command('token-cache')
    .description('the cached per-user tokens of applications (administrators; never a token)')
    .option('--json', 'print the whole answer')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.webservices.tokenCache);
      if (o.json) return kit.out(r);
      process.stdout.write(`${r.entries} cached token${r.entries === 1 ? '' : 's'}\n`);
      if (r.items.length) kit.table(r.items.map((i) => ({ application: i.application.name, user: i.user.name, created: i.createdAt, expires: i.expiresAt })), ['application', 'user', 'created', 'expires']);
    });

  ecm
    .command('clear-token-cache')
    .description('Clear Token Cache: every cached token goes; the next call of each application makes a new one (administrators)')
    .action(async () => {
      const r = await callApi(kit.session(), api.webservices.clearTokenCache);
      process.stdout.write(`cleared ${r.cleared} cached token${r.cleared === 1 ? '' : 's'}\n`);
    });

  ecm
    .command('applications')
    .description('Manage Applications: the applications that asked for or hold access to your credentials')
    .option('--json', 'print the whole answer')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.webservices.applications);
      if (o.json) return kit.out(r);
      if (!r.items.length) return void process.stdout.write('no application has asked for your credentials\n');
      kit.table(r.items.map((i) => ({ id: i.id, application: i.application.name, status: i.status, endpoint: i.endpoint ?? '', requested: i.requestedAt })), ['id', 'application', 'status', 'endpoint', 'requested']);
    });

  const idOf = async (ref: string): Promise<string> => {
    const r = await callApi(kit.session(), api.webservices.applications);
    return r.items.find((i) => i.id === ref || i.application.name === ref)?.id ?? ref;
  };
  for (const [name, what] of [
    ['approve', 'approve an application: it may retrieve your credentials from now on'],
    ['deny', 'deny an application access to your credentials'],
  ] as const) {
    ecm
      .command(`${name} <application>`)
      .description(`${what} (the application's name or the id from \`ecm applications\`)`)
      .action(async (ref: string) => {
        const r = await callApi(kit.session(), name === 'approve' ? api.webservices.approve : api.webservices.deny, { params: { id: await idOf(ref) } });
        process.stdout.write(`${r.application.name}: ${r.status}\n`);
      });
  }
  ecm
    .command('revoke <application>')
    .description("revoke an application's access to your credentials (it must ask again)")
    .action(async (ref: string) => {
      await callApi(kit.session(), api.webservices.revoke, { params: { id: await idOf(ref) } });
      process.stdout.write('revoked\n');
    });
}
