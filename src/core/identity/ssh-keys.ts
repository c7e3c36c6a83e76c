// Public keys a Gatehouse user registers to log in at the SSH door as `user:secret`.
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { Store } from '../../store/db.js';
import type { Actor, AuditService } from '../audit/service.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { newId, now } from '../util.js';

export interface SshKeyView {
  id: string;
  name: string;
  keyType: string;
  fingerprint: string;
  createdAt: string;
}

export const fingerprintOf = (blob: Buffer) => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

export class SshKeys {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
  ) {}

  async add(actor: Actor & { id: string }, input: { name: string; publicKey: string }): Promise<SshKeyView> {
    const parsed = ssh2.utils.parseKey(input.publicKey.trim());
    if (parsed instanceof Error || (Array.isArray(parsed) && parsed.length === 0)) throw badRequest('publicKey is not an OpenSSH public key line (e.g. "ssh-ed25519 AAAA… comment")', 'invalid_public_key');
    const key = Array.isArray(parsed) ? parsed[0]! : parsed;
    if (key.isPrivateKey()) throw badRequest('that is a private key: register the public key (the .pub file) only', 'invalid_public_key');
    const blob = key.getPublicSSH();
    const fingerprint = fingerprintOf(blob);
    const clash = await this.store.db.selectFrom('sshUserKeys').select('id').where('fingerprint', '=', fingerprint).executeTakeFirst();
    if (clash) throw conflict('this key is already registered');
    const id = newId();
    await this.store.db
      .insertInto('sshUserKeys')
      .values({ id, userId: actor.id, name: input.name, keyType: key.type, publicKey: `${key.type} ${blob.toString('base64')}`, fingerprint, createdAt: now() })
      .execute();
    await this.audit.record(actor, { action: 'ssh_key.add', target: { type: 'user', id: actor.id }, details: { name: input.name, fingerprint } });
    return { id, name: input.name, keyType: key.type, fingerprint, createdAt: new Date().toISOString() };
  }

  async list(userId: string): Promise<SshKeyView[]> {
    const rows = await this.store.db.selectFrom('sshUserKeys').selectAll().where('userId', '=', userId).orderBy('createdAt').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, keyType: r.keyType, fingerprint: r.fingerprint, createdAt: new Date(r.createdAt).toISOString() }));
  }

  async remove(actor: Actor & { id: string }, id: string): Promise<void> {
    const r = await this.store.db.deleteFrom('sshUserKeys').where('id', '=', id).where('userId', '=', actor.id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound('ssh key');
    await this.audit.record(actor, { action: 'ssh_key.remove', target: { type: 'user', id: actor.id }, details: { keyId: id } });
  }

  /** The user owning this key blob, if the key is registered to `userId`. */
  async owns(userId: string, blob: Buffer): Promise<boolean> {
    const r = await this.store.db.selectFrom('sshUserKeys').select('id').where('userId', '=', userId).where('fingerprint', '=', fingerprintOf(blob)).executeTakeFirst();
    return !!r;
  }
}
