// Shared control in the portal, end to end in two (three) headless Chromium contexts
// (playwright-core) on a browser SSH session to the real test sshd: the auditor asks to join
// from Live sessions, the owner accepts in the session's window, the joiner types, the target
// runs it, the recording names the joiner; the owner invites a colleague who joins from My
// access and is then kicked; a declined request is refused; a launcher with the options off
// refuses and audits. Screenshots go to test-artifacts/screenshots. Needs the UI built.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { UI_DIR } from '../../src/web/ui.js';
import { ensureTargetAccount, TARGET_PASSWORD, TARGET_USER } from '../support/accounts.js';
import { launchBrowser, newContext, screenshot, signInPortal, stepRunner, until, waitForTerminalText, type Ctx } from '../support/browser.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const USERS = { olive: ['User'], audrey: ['Auditor'], bert: ['User'] } as const;
const pw = (u: string) => `${u}-Shared-pass-1`;
const SECRET_NAME = 'shared-box';

describe('shared control in Chromium', { timeout: 180_000 }, () => {
  let sshd: Sshd;
  let gw: Gateway;
  let browser: Browser;
  let secretId: string;
  const contexts: Ctx[] = [];
  const c = {} as Record<keyof typeof USERS, Ctx>;
  const step = stepRunner(contexts, 'sharing');
  const admin = (method: string, path: string, body?: unknown) => gw.api(method, path, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });

  /** Olive opens the SSH launcher in the browser terminal and agrees to the recording. */
  async function ownerTerminal(): Promise<Page> {
    const { page, context } = c.olive;
    await page.goto('/');
    const row = page.getByRole('row').filter({ hasText: SECRET_NAME });
    const ssh = row.locator('.launcher-row').filter({ hasText: /^SSH/ }).getByRole('link', { name: 'Open in browser' });
    const [term] = await Promise.all([context.waitForEvent('page'), ssh.click()]);
    await term.getByRole('heading', { name: 'This session is recorded' }).waitFor();
    await term.getByRole('button', { name: 'I agree' }).click();
    await term.getByText('Connected', { exact: true }).waitFor();
    await waitForTerminalText(term, new RegExp(`${TARGET_USER}@[^\\s:]*:[^\\n]*\\$`), 20_000);
    return term;
  }
  const liveSessionOf = async () =>
    until(async () => (await admin('GET', `/api/v1/sessions?status=live&secretId=${secretId}`)).body.items[0]?.id as string | undefined, 'olive’s session is live');
  /** Audrey asks to join from Live sessions; her page waits for the answer. */
  async function askToJoin(): Promise<Page> {
    const { page } = c.audrey;
    await page.goto('/sessions/live');
    const row = page.getByRole('row').filter({ hasText: 'olive' }).filter({ hasText: SECRET_NAME });
    await row.getByRole('button', { name: 'Ask to join' }).click();
    return page;
  }
  async function typeIn(page: Page, text: string): Promise<void> {
    await page.locator('.xterm').click();
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
  }
  const auditOf = async (action: string, sessionId: string) => (await admin('GET', `/api/v1/audit?action=${action}&targetId=${sessionId}`)).body.items as { actorName: string; outcome: string; details: Record<string, unknown> }[];

  before(async () => {
    assert.ok(existsSync(`${UI_DIR}/index.html`), 'the UI is built (npm run build)');
    ensureTargetAccount();
    [sshd, gw, browser] = await Promise.all([startSshd(), startGateway('sqlite'), launchBrowser()]);
    const s = await admin('POST', '/api/v1/secrets', { name: SECRET_NAME, template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: TARGET_USER, password: TARGET_PASSWORD } });
    assert.equal(s.status, 201, s.raw);
    secretId = s.body.id;
    for (const [u, roles] of Object.entries(USERS)) assert.equal((await admin('POST', '/api/v1/users', { username: u, password: pw(u), roles })).status, 201);
    await admin('PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'olive', level: 'view' }] });
    assert.equal((await admin('PATCH', '/api/v1/launchers/ssh', { options: { allowJoinRequests: true, allowJoinInvites: true } })).status, 200);
    for (const u of Object.keys(USERS) as (keyof typeof USERS)[]) {
      c[u] = await newContext(browser, gw.running.url);
      contexts.push(c[u]);
      await signInPortal(c[u].page, u, pw(u));
    }
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await sshd?.stop();
  });

  it('request → the owner accepts in the window → the joiner types → the target shows it → the recording names the joiner', () =>
    step(async () => {
      const owner = await ownerTerminal();
      const sessionId = await liveSessionOf();
      const joiner = await askToJoin();
      await joiner.getByText('Waiting for the owner to accept…').waitFor();
      const prompt = owner.getByRole('alertdialog', { name: 'audrey asks to join' });
      await prompt.waitFor();
      await screenshot(owner, 'sharing-01-owner-asked');
      await prompt.getByRole('button', { name: 'Accept' }).click();
      await joiner.getByText("Joined olive's session").waitFor();
      await typeIn(joiner, 'echo joined-$((40+2))');
      await waitForTerminalText(owner, /^joined-42\s*$/m);
      await waitForTerminalText(joiner, /^joined-42\s*$/m);
      await screenshot(joiner, 'sharing-02-joiner-typed');
      await screenshot(owner, 'sharing-03-owner-sees');
      await typeIn(owner, 'exit');
      await joiner.getByText('No longer in the session').waitFor();
      await until(async () => (await admin('GET', `/api/v1/sessions/${sessionId}`)).body.status === 'ended', 'the session ended');
      const cast = (await gw.running.app.inject({ method: 'GET', url: `/api/v1/recordings/${sessionId}`, headers: { authorization: `Bearer ${gw.adminToken}` } })).body;
      const inputs = cast.split('\n').slice(1).filter(Boolean).map((l: string) => JSON.parse(l) as unknown[]).filter((e: unknown[]) => e[1] === 'i');
      // xterm sends each key as it is typed: every one of the joiner's events names them.
      const joined = inputs.filter((e: unknown[]) => e[3] === 'audrey').map((e: unknown[]) => e[2]).join('');
      assert.match(joined, /echo joined-\$\(\(40\+2\)\)\r/);
      assert.ok(inputs.filter((e: unknown[]) => e[3] === 'olive').map((e: unknown[]) => e[2]).join('').includes('exit'));
      const text = (await admin('GET', `/api/v1/recordings/${sessionId}/text`)).body.items as { text: string; by: string | null }[];
      assert.ok(text.some((l) => l.text === 'echo joined-$((40+2))' && l.by === 'audrey'), JSON.stringify(text));
      assert.equal((await auditOf('session.join_accept', sessionId))[0]?.actorName, 'olive');
      assert.equal((await auditOf('session.join', sessionId))[0]?.actorName, 'audrey');
    }));

  it('invite: the colleague joins from My access and types; the owner is told; kicking removes them', () =>
    step(async () => {
      const owner = await ownerTerminal();
      const sessionId = await liveSessionOf();
      await owner.getByRole('button', { name: 'Invite' }).click();
      await owner.getByLabel('User name').fill('bert');
      await owner.getByRole('dialog').getByRole('button', { name: 'Invite' }).click();
      await owner.getByText('Invitation sent').waitFor();
      const { page } = c.bert;
      await page.goto('/');
      await page.getByText('invites you to their session').waitFor();
      await screenshot(page, 'sharing-04-invited');
      await page.getByRole('link', { name: 'Join session' }).click();
      await page.getByText("Joined olive's session").waitFor();
      await owner.getByText('bert joined this session').waitFor();
      await typeIn(page, 'echo bert-$((3*3))');
      await waitForTerminalText(owner, /^bert-9\s*$/m);
      const joins = (await admin('GET', `/api/v1/sessions/${sessionId}/joins`)).body.items as { id: string; user: { username: string }; status: string }[];
      const bert = joins.find((j) => j.user.username === 'bert' && j.status === 'joined')!;
      assert.equal((await admin('POST', `/api/v1/sessions/${sessionId}/joins/${bert.id}/kick`)).status, 200);
      await page.getByText('removed from the session by admin').waitFor();
      await screenshot(page, 'sharing-05-kicked');
      await typeIn(owner, 'exit');
      await until(async () => (await admin('GET', `/api/v1/sessions/${sessionId}`)).body.status === 'ended', 'the session ended');
      assert.equal((await auditOf('session.invite', sessionId))[0]?.actorName, 'olive');
      assert.equal((await auditOf('session.kick', sessionId))[0]?.actorName, 'admin');
    }));

  it('decline: the joiner is refused; with the options off, asking is refused and audited', () =>
    step(async () => {
      const owner = await ownerTerminal();
      const sessionId = await liveSessionOf();
      const joiner = await askToJoin();
      const prompt = owner.getByRole('alertdialog', { name: 'audrey asks to join' });
      await prompt.getByRole('button', { name: 'Decline' }).click();
      await joiner.getByText('the owner declined your request').waitFor();
      await screenshot(joiner, 'sharing-06-declined');
      assert.equal((await auditOf('session.join_decline', sessionId)).length, 1);
      assert.ok((await auditOf('session.join_refused', sessionId)).some((e) => e.details.reason === 'declined'));
      await typeIn(owner, 'exit');
      await until(async () => (await admin('GET', `/api/v1/sessions/${sessionId}`)).body.status === 'ended', 'the session ended');

      assert.equal((await admin('PATCH', '/api/v1/launchers/ssh', { options: { allowJoinRequests: false, allowJoinInvites: false } })).status, 200);
      const owner2 = await ownerTerminal();
      const second = await liveSessionOf();
      await askToJoin();
      await c.audrey.page.getByText('does not allow join requests').waitFor();
      await screenshot(c.audrey.page, 'sharing-07-disallowed');
      assert.ok((await auditOf('session.join_refused', second)).some((e) => e.details.reason === 'requests_disallowed'));
      assert.equal(await owner2.getByRole('button', { name: 'Invite' }).count(), 1);
      await typeIn(owner2, 'exit');
    }));
});
