// `gatehouse launch` with display settings (issue 14 point 3, from the command line): the real
// CLI against a real `gatehouse serve`. --width/--height/--dpi/--keyboard-layout reach the
// launch (its audit event lists them) and the saved .rdp file asks for that window; values out
// of bounds are the server's 400 invalid_display (one line, no stack), words are refused by
// the CLI before any launch, and the settings are refused for a non-RDP launcher.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { api, apiLogin, cleanEnv, fails, killAll, ok, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse launch: display settings for RDP launchers', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  const winPw = `Win-Admin-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let token: string;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const must = async (method: string, path: string, body?: unknown) => {
    const r = await api(server.url, method, path, { token, ...(body !== undefined ? { body } : {}) });
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
    return r.body ? r.json() : undefined;
  };

  before(async () => {
    dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    token = await apiLogin(server.url, 'admin', adminPw);
    await must('POST', '/api/v1/secrets', { name: 'win1', template: 'windows-account', fields: { machine: '127.0.0.1', username: 'Administrator', password: winPw } });
    await must('POST', '/api/v1/secrets', { name: 'box1', template: 'unix-account', fields: { machine: '127.0.0.1', port: 1, username: 'root', password: winPw } });
    env = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'admin.json') });
    ok(await runCli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], { env, input: adminPw }), 'admin login');
  });
  after(() => server?.kill());

  it('the size, DPI and layout reach the launch and the .rdp file', T, async () => {
    const file = join(dir, 'sized.rdp');
    ok(await runCli(['launch', 'win1', '-l', 'rdp', '--width', '1280', '--height', '720', '--dpi', '144', '--keyboard-layout', 'de', '--out', file], { env }), 'launch with display settings');
    const text = readFileSync(file, 'latin1');
    assert.match(text, /^desktopwidth:i:1280\r$/m);
    assert.match(text, /^desktopheight:i:720\r$/m);
    assert.match(text, /^screen mode id:i:1\r$/m);
    assert.ok(!text.includes(winPw), 'no password in the .rdp file');
    const ev = (await must('GET', '/api/v1/audit?action=secret.launch&limit=5')).items[0];
    assert.deepEqual(ev.details.display, { width: 1280, height: 720, dpi: 144, keyboardLayout: 'de' });
  });

  it('bad values: the server says which bound (400 invalid_display), words never reach it', T, async () => {
    fails(await runCli(['launch', 'win1', '-l', 'rdp', '--width', '100', '--height', '720', '--out', join(dir, 'never1.rdp')], { env }), /^gatehouse: width must be an integer from 200 to 8192/);
    fails(await runCli(['launch', 'win1', '-l', 'rdp', '--dpi', '600', '--out', join(dir, 'never2.rdp')], { env }), /^gatehouse: dpi must be an integer from 96 to 480/);
    fails(await runCli(['launch', 'win1', '-l', 'rdp', '--width', '1280', '--out', join(dir, 'never3.rdp')], { env }), /^gatehouse: width and height go together/);
    fails(await runCli(['launch', 'win1', '-l', 'rdp', '--keyboard-layout', 'jp', '--out', join(dir, 'never4.rdp')], { env }), /^gatehouse: keyboardLayout must be one of us, uk, de, fr/);
    const before = (await must('GET', '/api/v1/audit?action=secret.launch&limit=100')).items.length;
    fails(await runCli(['launch', 'win1', '-l', 'rdp', '--width', 'wide', '--height', '720', '--out', join(dir, 'never5.rdp')], { env }), /^gatehouse: --width must be a whole number/);
    assert.equal((await must('GET', '/api/v1/audit?action=secret.launch&limit=100')).items.length, before, 'no launch was made');
    fails(await runCli(['launch', 'box1', '-l', 'ssh', '--width', '1280', '--height', '720'], { env }), /^gatehouse: display settings .* apply to RDP launchers/);
    for (const n of [1, 2, 3, 4, 5]) assert.ok(!existsSync(join(dir, `never${n}.rdp`)));
  });
});
