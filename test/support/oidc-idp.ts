// A real OpenID Provider (the `oidc-provider` package) for the OIDC tests, in a child process
// on http://127.0.0.1:<free port>. Plain http: openid-client's fetch takes no extra CA, and
// Gatehouse accepts http issuers only on loopback, so the test needs no TLS trust seam.
// A child process so its clock can be set apart (`clockOffsetSeconds`: a provider whose clock
// runs behind issues ID tokens that are already expired) and so `issuer` can name another
// URL than the one it is reached at (a wrong issuer). People sign in on its development
// login form (any password); a grant is given at once (no consent page).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface IdpAccount {
  sub: string;
  preferred_username: string;
  name: string;
  email: string;
  groups: string[];
}

export interface IdpOptions {
  clients: { client_id: string; client_secret: string; redirect_uris: string[] }[];
  accounts: Record<string, IdpAccount>;
  /** Stated as the issuer instead of the URL the provider is reached at. */
  issuer?: string;
  clockOffsetSeconds?: number;
}

export interface Idp {
  url: string;
  close(): Promise<void>;
}

export async function startIdp(opts: IdpOptions): Promise<Idp> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, GH_TEST_IDP: JSON.stringify(opts), NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => l.startsWith('IDP ') && resolve(l.slice(4).trim()));
    child.once('exit', (code) => reject(new Error(`test IdP exited (${code}) before listening`)));
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function main(opts: IdpOptions): Promise<void> {
  // The clock is set back only while the token endpoint answers (the tests run one sign-in at
  // a time): its ID tokens are born expired, while its session cookies still work.
  let offsetMs = 0;
  if (opts.clockOffsetSeconds) {
    const realNow = Date.now;
    Date.now = () => realNow() + offsetMs;
  }
  const { createServer } = await import('node:http');
  // The package ships no type declarations; it is used only here.
  const { default: Provider } = (await import('oidc-provider' as string)) as { default: new (issuer: string, config: unknown) => any };
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const provider = new Provider(opts.issuer ?? url, {
    clients: opts.clients.map((c) => ({ ...c, grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' })),
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'], groups: ['groups'] },
    // The claims of the requested scopes go into the ID token too (as Keycloak does).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['test-idp-cookie-key'] },
    async findAccount(_ctx: unknown, id: string) {
      const a = opts.accounts[id];
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ ...a, email_verified: true }) };
    },
    async loadExistingGrant(ctx: any) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope);
      await grant.save();
      return grant;
    },
  });
  // The session cookies must work over plain http.
  (provider as any).proxy = false;
  const handle = provider.callback();
  server.on('request', (req, res) => {
    if (opts.clockOffsetSeconds && req.url?.startsWith('/token')) {
      offsetMs = opts.clockOffsetSeconds * 1000;
      res.once('close', () => (offsetMs = 0));
    }
    handle(req, res);
  });
  process.stdout.write(`IDP ${url}\n`);
}

if (process.env.GH_TEST_IDP && process.argv[1] === fileURLToPath(import.meta.url)) {
  main(JSON.parse(process.env.GH_TEST_IDP) as IdpOptions).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
