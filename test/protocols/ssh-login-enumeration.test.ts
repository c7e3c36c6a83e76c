// `ssh user:secret@gatehouse` logins say nothing about an account to someone who does not know
// its password: an unknown name, an account with a password only and an account with TOTP get
// the same prompts and the same methods after a wrong password, and the TOTP prompt comes only
// after the right password (as the API answers totp_required only then). Before, the door
// asked "TOTP code: " right after the password prompt, and turned the `password` method away
// unchecked, for exactly the accounts with a second factor: whoever asked learned which names
// exist and have one, without a guess counted against them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import ssh2 from 'ssh2';
import { startGateway, type Gateway } from '../support/gateway.js';
import { createSecret, ok } from '../support/ssh-client.js';
import { nextTotp } from '../support/totp.js';

interface Attempt {
  ok: boolean;
  /** Each keyboard-interactive round's prompts. */
  prompts: string[][];
  /** The methods the door named after each failed method, with partial success marked. */
  left: string[];
}

/** One login with ssh2's client, by `method`, answering every prompt from `answer`. */
function attempt(gw: Gateway, user: string, method: 'password' | 'keyboard-interactive', password: string, answer: (prompt: string) => string): Promise<Attempt> {
  return new Promise((resolve) => {
    const prompts: string[][] = [];
    const left: string[] = [];
    let tried = false;
    const conn = new ssh2.Client();
    conn.on('keyboard-interactive', (_name, _instructions, _lang, ps, finish) => {
      prompts.push(ps.map((p) => p.prompt));
      finish(ps.map((p) => answer(p.prompt)));
    });
    conn.on('ready', () => {
      conn.end();
      resolve({ ok: true, prompts, left });
    });
    conn.on('error', () => resolve({ ok: false, prompts, left }));
    conn.connect({
      host: '127.0.0.1',
      port: gw.sshPort,
      username: user,
      hostVerifier: () => true,
      readyTimeout: 20_000,
      // Once by the method under test; then whatever the door names is only recorded.
      authHandler: ((methodsLeft: string[] | null, partial: boolean | null, next: (m: unknown) => void) => {
        if (methodsLeft) left.push(`${[...methodsLeft].sort().join(',')}${partial ? ' (partial)' : ''}`);
        if (tried) return next(false);
        tried = true;
        return next(method === 'password' ? { type: 'password', username: user, password } : { type: 'keyboard-interactive', username: user, prompt: (_n: string, _i: string, _l: string, ps: { prompt: string }[], finish: (a: string[]) => void) => {
          prompts.push(ps.map((p) => p.prompt));
          finish(ps.map((p) => (/password/i.test(p.prompt) ? password : answer(p.prompt))));
        } });
      }) as never,
    });
  });
}

describe('SSH door: a login says nothing about an account before its password is right', () => {
  let gw: Gateway;
  let seed: string;
  const password = 'pw-Enumerate-1-right';
  before(async () => {
    gw = await startGateway('sqlite');
    await createSecret(gw, 'box', { port: 1, password: 'target-pw' });
    await ok(gw, 'POST', '/api/v1/users', { username: 'plain', password, roles: ['user'] }, 201);
    await ok(gw, 'POST', '/api/v1/users', { username: 'totpuser', password, roles: ['user'] }, 201);
    const token = await gw.userToken('totpuser', password);
    seed = (await ok(gw, 'POST', '/api/v1/me/totp', undefined, 200, token)).secret;
    await ok(gw, 'POST', '/api/v1/me/totp/confirm', { code: await nextTotp(seed) }, 200, token);
  });
  after(async () => gw?.close());

  for (const method of ['keyboard-interactive', 'password'] as const) {
    it(`a wrong password by ${method}: the same prompts and methods for an unknown name, a password-only account and one with TOTP`, async () => {
      const seen = [];
      for (const user of ['nobody-at-all', 'plain', 'totpuser']) {
        const a = await attempt(gw, `${user}:box`, method, 'not-the-password', () => '123456');
        assert.equal(a.ok, false, user);
        seen.push({ prompts: a.prompts, left: a.left });
      }
      assert.deepEqual(seen[1], seen[0], 'password-only account against an unknown name');
      assert.deepEqual(seen[2], seen[0], 'TOTP account against an unknown name');
      if (method === 'keyboard-interactive') assert.deepEqual(seen[0]!.prompts, [['Gatehouse password: ']]);
    });
  }

  it('the right password by keyboard-interactive: then "TOTP code: ", and the right code signs in', async () => {
    const code = await nextTotp(seed);
    const a = await attempt(gw, 'totpuser:box', 'keyboard-interactive', password, () => code);
    assert.deepEqual(a.prompts, [['Gatehouse password: '], ['TOTP code: ']]);
    assert.equal(a.ok, true, JSON.stringify(a));
  });

  it('the right password by the password method, for an account with TOTP: keyboard-interactive is named next', async () => {
    const a = await attempt(gw, 'totpuser:box', 'password', password, () => '');
    assert.equal(a.ok, false);
    assert.deepEqual(a.left, ['keyboard-interactive,publickey']);
  });
});
