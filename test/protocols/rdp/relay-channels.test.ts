// The relay enforces the launcher's redirection policy on real sockets: with the clipboard
// denied, nothing on "cliprdr" passes in either direction, while other channels and the I/O
// channel pass unchanged; with everything allowed the relay does not touch channel data.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import pino from 'pino';
import type { SessionHandle } from '../../../src/core/broker.js';
import { RdpRelay } from '../../../src/protocols/rdp-door/relay.js';
import { encodeClientInfo, INFO, SEC } from '../../../src/protocols/rdp/pdu/client-info.js';
import { buildConnectInitial, buildConnectResponse } from '../../../src/protocols/rdp/pdu/mcs-gcc.js';
import { buildSendData, DOMAIN_PDU } from '../../../src/protocols/rdp/pdu/mcs-domain.js';
import { encodeServerCore, encodeServerNetwork, encodeServerSecurity } from '../../../src/protocols/rdp/pdu/server-data.js';
import { buildDataTpdu } from '../../../src/protocols/rdp/pdu/x224.js';
import { sampleClientBlocks } from './fixtures.js';

const IO = 1003;
const [RDPDR, CLIPRDR, RDPSND] = [1004, 1005, 1006];
const USER = 1007;

/** Two connected TCP sockets (the relay only needs the stream side of its TLS sockets). */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const a = connect(port, '127.0.0.1');
  const b = await accepted;
  server.close();
  await new Promise((r) => a.once('connect', r));
  return [a, b];
}

function fakeHandle(options: Record<string, unknown>): { handle: SessionHandle; notes: [string, Record<string, unknown>][] } {
  const notes: [string, Record<string, unknown>][] = [];
  const handle = {
    id: 'sess-1',
    plan: { launcher: { record: false, recordKeystrokes: false, options } },
    traffic() {},
    note: (kind: string, d: Record<string, unknown>) => notes.push([kind, d]),
    beginGraphics() {},
    graphics() {},
    keystrokes() {},
    onJoinInput() {},
    onJoin() {},
  } as unknown as SessionHandle;
  return { handle, notes };
}

const vc = (data: string) => {
  const body = Buffer.from(data);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(body.length, 0);
  head.writeUInt32LE(0x03, 4); // FIRST | LAST
  return Buffer.concat([head, body]);
};
const req = (channelId: number, data: Buffer) => buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_REQUEST, initiator: USER, channelId, flags: 0x70, data }));
const ind = (channelId: number, data: Buffer) => buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_INDICATION, initiator: USER, channelId, flags: 0x70, data }));

async function run(options: Record<string, unknown>) {
  const [clientApp, clientLeg] = await socketPair();
  const [targetLeg, targetApp] = await socketPair();
  const atTarget: Buffer[] = [];
  const atClient: Buffer[] = [];
  targetApp.on('data', (d: Buffer) => atTarget.push(d));
  clientApp.on('data', (d: Buffer) => atClient.push(d));
  const { handle, notes } = fakeHandle(options);
  const relay = new RdpRelay({
    handle,
    client: clientLeg as unknown as TLSSocket,
    target: targetLeg as unknown as TLSSocket,
    targetProtocol: 1,
    clientRequestedProtocols: 1,
    logon: { domain: '', username: 'svc', password: 'Vaulted-1' },
    log: pino({ level: 'silent' }),
    onClose: () => {},
  });
  relay.start();
  const settle = () => new Promise((r) => setTimeout(r, 100));
  clientApp.write(buildDataTpdu(buildConnectInitial({ blocks: sampleClientBlocks() })));
  await settle();
  targetApp.write(
    buildDataTpdu(
      buildConnectResponse({
        blocks: [encodeServerCore({ version: 0x00080004, clientRequestedProtocols: 1, earlyCapabilityFlags: 0 }), encodeServerNetwork({ mcsChannelId: IO, channelIds: [RDPDR, CLIPRDR, RDPSND] }), encodeServerSecurity({ encryptionMethod: 0, encryptionLevel: 0 })],
      }),
    ),
  );
  await settle();
  const info = encodeClientInfo({ securityFlags: SEC.INFO_PKT, securityFlagsHi: 0, codePage: 0, flags: INFO.MOUSE | INFO.UNICODE, domain: '', userName: 'person', password: '', alternateShell: '', workingDir: '', extraInfo: Buffer.alloc(0) });
  clientApp.write(req(IO, info));
  await settle();
  atTarget.length = 0;
  atClient.length = 0;
  clientApp.write(Buffer.concat([req(CLIPRDR, vc('client-clipboard-bytes')), req(RDPSND, vc('client-sound-bytes'))]));
  targetApp.write(Buffer.concat([ind(CLIPRDR, vc('target-clipboard-bytes')), ind(RDPSND, vc('target-sound-bytes'))]));
  await settle();
  relay.close('test over');
  for (const s of [clientApp, targetApp]) s.destroy();
  return { toTarget: Buffer.concat(atTarget).toString('latin1'), toClient: Buffer.concat(atClient).toString('latin1'), notes };
}

describe('the RDP relay applies the redirection policy', () => {
  it('clipboard denied: cliprdr data is dropped both ways and noted; other channels pass', async () => {
    const r = await run({ rdpClipboard: false });
    assert.ok(!r.toTarget.includes('client-clipboard-bytes'), 'client clipboard data reached the target');
    assert.ok(!r.toClient.includes('target-clipboard-bytes'), 'target clipboard data reached the client');
    assert.ok(r.toTarget.includes('client-sound-bytes'));
    assert.ok(r.toClient.includes('target-sound-bytes'));
    const denied = r.notes.filter(([k]) => k === 'rdp_channel_denied').map(([, d]) => d);
    assert.ok(denied.some((d) => d.channel === 'cliprdr' && d.action === 'channel_dropped'), JSON.stringify(denied));
  });

  it('everything allowed: channel data passes untouched', async () => {
    const r = await run({});
    assert.ok(r.toTarget.includes('client-clipboard-bytes'));
    assert.ok(r.toClient.includes('target-clipboard-bytes'));
    assert.equal(r.notes.filter(([k]) => k === 'rdp_channel_denied').length, 0);
  });
});
