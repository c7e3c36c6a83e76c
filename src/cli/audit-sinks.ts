// `gatehouse audit sinks …`: audit streaming sinks (issue 16 point 6) from the command line —
// list them with how far each got, add a syslog or webhook sink, enable, disable, remove.
// Secrets come from files or standard input, never from the command line (where `ps` and the
// shell history would keep them): that includes a webhook's URL, which often carries the
// receiver's secret (--url-file; --url still works, for URLs without one). Lists show a webhook's
// URL as the API answers it, scheme, host and port with `/…` for the rest. Administrators only
// (the API says so). See docs/operations.md.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { api } from '../web/contract/index.js';
import type { Ok } from '../web/contract/route.js';
import { callApi } from './client.js';
import { readStdin } from './prompt.js';
import type { CliKit } from './personal.js';

type Sink = Ok<typeof api.auditSinks.get>;

/** The first line of `text` and the rest (for a URL and an HMAC key both on standard input). */
const firstLine = (text: string): [string, string] => {
  const i = text.indexOf('\n');
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 1)];
};

const target = (s: Sink) => (s.kind === 'syslog' ? `${s.tls ? 'tls' : 'tcp'}://${s.host}:${s.port}` : s.url);
const line = (s: Sink) =>
  `${s.name}\t${s.kind}\t${target(s)}\t${s.enabled ? 'enabled' : 'disabled'}\t${s.status.cursor}/${s.status.head}` +
  (s.status.attempts ? `\tfailing (${s.status.attempts} in a row): ${s.status.lastError}` : '\tok') +
  '\n';

export function registerAuditSinks(audit: Command, kit: Pick<CliKit, 'session' | 'out'>): void {
  const sinks = audit.command('sinks').description('audit streaming to syslog and webhooks (docs/operations.md#audit-streaming)');
  const byName = async (name: string): Promise<Sink> => {
    const all = await callApi(kit.session(), api.auditSinks.list, { query: { limit: 500 } });
    const s = all.items.find((x) => x.name === name || x.id === name);
    if (!s) throw new Error(`no audit sink named "${name}"`);
    return s;
  };
  const tlsFiles = (o: { ca?: string; clientCert?: string; clientKey?: string }) => ({
    ...(o.ca ? { caPem: readFileSync(o.ca, 'utf8') } : {}),
    ...(o.clientCert ? { clientCertPem: readFileSync(o.clientCert, 'utf8') } : {}),
    ...(o.clientKey ? { clientKeyPem: readFileSync(o.clientKey, 'utf8') } : {}),
  });
  sinks
    .command('list', { isDefault: true })
    .description('every sink: kind, where, cursor/head, and whether it is failing')
    .option('--json', 'print the whole response')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.auditSinks.list, { query: { limit: 500 } });
      if (o.json) kit.out(r);
      else for (const s of r.items) process.stdout.write(line(s));
    });
  sinks
    .command('add-syslog <name>')
    .description('stream to a syslog collector (RFC 5424, octet counting) over TCP or, with --tls, TLS')
    .requiredOption('--host <host>', 'the collector')
    .requiredOption('--port <port>', 'its port', (v) => Number(v))
    .option('--tls', 'TLS (RFC 5425)')
    .option('--server-name <name>', 'the name its certificate must carry')
    .option('--ca <file>', 'PEM certificates to trust for it')
    .option('--client-cert <file>', 'a client certificate (PEM) to present')
    .option('--client-key <file>', 'its private key (PEM)')
    .option('--facility <n>', 'syslog facility 0-23 (default 13, log audit)', (v) => Number(v))
    .option('--from-now', 'start after the newest event instead of sending the whole chain')
    .action(async (name: string, o: { host: string; port: number; tls?: boolean; serverName?: string; ca?: string; clientCert?: string; clientKey?: string; facility?: number; fromNow?: boolean }) => {
      // Over plain TCP they would be ignored (the API refuses them too).
      if (!o.tls && (o.ca || o.clientCert || o.clientKey)) throw new Error('--ca, --client-cert and --client-key are for TLS: add --tls (a plain TCP sink would not use them and would send in clear)');
      const s = await callApi(kit.session(), api.auditSinks.create, {
        body: { name, kind: 'syslog', host: o.host, port: o.port, tls: !!o.tls, ...(o.serverName ? { serverName: o.serverName } : {}), ...(o.facility !== undefined ? { facility: o.facility } : {}), ...tlsFiles(o), startAt: o.fromNow ? 'now' : 'beginning' },
      });
      process.stdout.write(line(s));
    });
  sinks
    .command('add-webhook <name>')
    .description(
      'stream to an HTTPS webhook, each POST signed with an HMAC-SHA256 key read from standard input. ' +
        'The URL is sealed like the key; give it with --url-file (a file, or - for the first line of standard input, the key on the next) ' +
        'rather than --url, which ps and the shell history keep: receivers often carry their secret in it',
    )
    .option('--url-file <file>', 'a file holding the https URL (-: the first line of standard input, then the HMAC key)')
    .option('--url <url>', 'the https URL on the command line (visible to ps and kept in shell history: prefer --url-file)')
    .option('--ca <file>', 'PEM certificates to trust for it')
    .option('--client-cert <file>', 'a client certificate (PEM) to present')
    .option('--client-key <file>', 'its private key (PEM)')
    .option('--from-now', 'start after the newest event instead of sending the whole chain')
    .action(async (name: string, o: { url?: string; urlFile?: string; ca?: string; clientCert?: string; clientKey?: string; fromNow?: boolean }) => {
      if (!o.url === !o.urlFile) throw new Error('give the webhook URL with --url-file <file> (or - for standard input), or --url');
      let input = await readStdin();
      let url = o.url;
      if (o.urlFile === '-') [url, input] = firstLine(input);
      else if (o.urlFile) url = readFileSync(o.urlFile, 'utf8');
      const hmacKey = input.trim();
      const s = await callApi(kit.session(), api.auditSinks.create, { body: { name, kind: 'webhook', url: url!.trim(), hmacKey, ...tlsFiles(o), startAt: o.fromNow ? 'now' : 'beginning' } });
      process.stdout.write(line(s));
    });
  sinks
    .command('set-url <name>')
    .description("replace a webhook sink's URL, read from standard input (or --url-file); it is sealed, and shown only as its host")
    .option('--url-file <file>', 'a file holding the https URL instead of standard input')
    .action(async (name: string, o: { urlFile?: string }) => {
      const url = (o.urlFile && o.urlFile !== '-' ? readFileSync(o.urlFile, 'utf8') : await readStdin()).trim();
      if (!url) throw new Error('no URL given (standard input or --url-file)');
      const s = await callApi(kit.session(), api.auditSinks.update, { params: { id: (await byName(name)).id }, body: { url } });
      process.stdout.write(line(s));
    });
  for (const [cmd, enabled] of [['enable', true], ['disable', false]] as const) {
    sinks
      .command(`${cmd} <name>`)
      .description(enabled ? 'resume streaming from where the sink stopped' : 'stop streaming (the cursor is kept)')
      .action(async (name: string) => {
        const s = await callApi(kit.session(), api.auditSinks.update, { params: { id: (await byName(name)).id }, body: { enabled } });
        process.stdout.write(line(s));
      });
  }
  sinks
    .command('remove <name>')
    .description('delete the sink (its sealed secrets with it)')
    .action(async (name: string) => {
      await callApi(kit.session(), api.auditSinks.remove, { params: { id: (await byName(name)).id } });
    });
}
