// Invitations from the browser RDP page (issue 14 point 6): olive, signed in to the portal,
// opens a browser RDP session to FreeRDP's shadow server (NLA target) and presses Invite in
// the page's bar (the same invite dialog as the browser terminal's); bert sees the invitation
// on My access, joins, sees the live desktop and types into it: xev on the target's X display
// prints it and the keystroke log names bert. Needs the UI built (npm run build).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canvasInfo } from '../support/rdp-canvas.js';
import { screenshot, until } from '../support/browser.js';
import { xevPrints } from '../support/rdp-browser-session.js';
import { auditOf as auditRows, chromiumSharingRig, clickJoinCanvas, ownerBrowserSession, recordingLines } from '../support/rdp-sharing.js';
import { SHADOW_DESKTOP_RGB } from '../support/xrdp.js';

const USERS = { olive: ['User'], bert: ['User'] } as const;
const pw = (u: string) => `${u}-Rdp-Invite-pass-1`;
const SECRET_NAME = 'invite-desktop';

describe('browser RDP page: Invite (Chromium, NLA target)', { timeout: 300_000 }, () => {
  const rig = chromiumSharingRig('browser-rdp-invite', {
    shadowAccount: { username: 'ghinviteshadow', password: 'Sh4dow-Invite-Vault-Pw!3q' },
    desktop: { name: SECRET_NAME, users: USERS, pw, owner: 'olive', launcherOptions: { allowJoinInvites: true } },
    xevEvents: ['keyboard'],
  });
  const api = rig.api;
  const auditOf = (action: string, sessionId: string) => auditRows(api, action, sessionId);

  it('olive invites bert from her RDP page; bert joins from My access, sees the desktop and types into it', async () => {
    const { gw, c, secretId, xev } = rig;
    let sessionId = '';
    await rig.step(async () => {
      const owner = c.olive.page;
      sessionId = await ownerBrowserSession(gw, api, secretId, await gw.userToken('olive', pw('olive')), owner);

      // The page found its own session: Invite, the dialog, the user name.
      const inviteButton = owner.locator('.rdpw-bar').getByRole('button', { name: 'Invite' });
      await inviteButton.waitFor({ timeout: 20_000 });
      assert.match((await inviteButton.getAttribute('title')) ?? '', new RegExp(SECRET_NAME));
      await inviteButton.click();
      await owner.getByLabel('User name').fill('bert');
      assert.equal(await owner.getByLabel('User name').inputValue(), 'bert', 'typing in the dialog reaches its field, not the remote desktop');
      await screenshot(owner, 'browser-rdp-invite-dialog');
      await owner.getByRole('dialog').getByRole('button', { name: 'Invite' }).click();
      await owner.getByText('Invitation sent').waitFor({ timeout: 15_000 });
      const invites = await auditOf('session.invite', sessionId);
      assert.equal(invites.length, 1);
      assert.equal(invites[0]!.actorName, 'olive');
      assert.equal(invites[0]!.details.user, 'bert');

      // bert: My access shows the invitation; he joins and sees the desktop.
      const joiner = c.bert.page;
      await joiner.goto('/');
      await joiner.getByText('invites you to their session').waitFor({ timeout: 15_000 });
      await joiner.getByRole('link', { name: 'Join session' }).click();
      await joiner.getByText("Joined olive's session").waitFor({ timeout: 15_000 });
      const screen = '.join-screen canvas';
      await until(async () => (await canvasInfo(joiner, SHADOW_DESKTOP_RGB, screen)).share > 0.3, 'the desktop on bert’s screen', 30_000);
      await screenshot(joiner, 'browser-rdp-invite-joiner');
      // xev's window is where the pointer is (no window manager): bert moves there and types.
      await clickJoinCanvas(joiner, screen, 120, 90);
      await joiner.keyboard.type('invited 42', { delay: 40 });
      await joiner.keyboard.press('Enter');
      await xevPrints(xev.out, 'invited 42', 'xev on the target to print what bert typed');
      await owner.getByRole('button', { name: 'Disconnect' }).click();
      await joiner.getByText('No longer in the session').waitFor({ timeout: 20_000 });
    });
    await until(async () => (await api.call('GET', `/api/v1/sessions/${sessionId}`)).body.status === 'ended', 'the session to end', 20_000);
    const text = await recordingLines(api, sessionId);
    assert.ok(text.some((l) => l.kind === 'command' && l.text === 'invited 42' && l.by === 'bert'), JSON.stringify(text));
    const joins = await auditOf('session.join', sessionId);
    assert.equal(joins.length, 1);
    assert.equal(joins[0]!.actorName, 'bert');
    assert.equal(joins[0]!.details.via, 'invite');
  });
});
