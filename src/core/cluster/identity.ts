// The cluster's shared identity (issue 16 point 1): what every node presents and signs with —
// SSH host keys, the TLS certificate, the audit signing key, the logon-ticket RSA key, the peer
// certificate nodes authenticate each other with — made once, by the first node, and sealed in
// the database (each piece under its own data key, wrapped by the master key: every node needs
// the same master key). This file knows no key format: the server names each piece, the files
// it lives in within the data dir (where the loaders read it, as on a single node) and how to
// make it. At a node's start, before those loaders run:
// - a piece in the database is written over the node's files when they differ (a node joining
//   takes the cluster's keys; its own earlier ones are replaced, and said so);
// - a piece not yet in the database is taken from the node's files when it has them (the first
//   node of an existing install keeps its keys: clients' known_hosts stay valid), else made,
//   then inserted; if another node inserted it a moment before, that one wins and is written here.
// A piece replaced later (a renewal, a rotation) bumps its version; other nodes reload it (watch).
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../store/db.js';
import type { DataKeys } from '../vault/datakeys.js';

export interface IdentityFile {
  /** File name in the data dir. */
  file: string;
  mode: number;
}

export interface IdentityPiece {
  /** Its name in the database (cluster_identity.name). */
  name: string;
  /** The files it is kept in, in the data dir; none: held in the database (and memory) only. */
  files: IdentityFile[];
  /** Makes it new: one text per file (any number when it has no file). */
  make: () => Promise<string[]> | string[];
}

export interface IdentityOutcome {
  name: string;
  /** created: made here and stored; adopted: this node's files became the cluster's; joined: the cluster's was written here (no files before); replaced: written over this node's different files; same: already identical. */
  how: 'created' | 'adopted' | 'joined' | 'replaced' | 'same';
  version: number;
}

const aad = (name: string) => `cluster-identity:${name}`;

export class ClusterIdentity {
  /** The values as this node holds them, with their versions. */
  private readonly held = new Map<string, { version: number; parts: string[] }>();

  constructor(
    private readonly store: Store,
    private readonly dataKeys: DataKeys,
    private readonly dataDir: string,
  ) {}

  /** Makes sure every piece is the cluster's, in the database and in this node's files. */
  async join(pieces: IdentityPiece[]): Promise<IdentityOutcome[]> {
    const out: IdentityOutcome[] = [];
    for (const p of pieces) out.push(await this.joinOne(p));
    return out;
  }

  /** The texts of a piece (after join). */
  value(name: string): string[] {
    const v = this.held.get(name);
    if (!v) throw new Error(`cluster identity piece ${name} is not loaded`);
    return v.parts;
  }

  private async read(name: string): Promise<{ version: number; parts: string[] } | null> {
    const row = await this.store.db.selectFrom('clusterIdentity').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) return null;
    const parts = JSON.parse(await this.dataKeys.decrypt(row.dataKeyId, row.sealed, aad(name))) as unknown;
    if (!Array.isArray(parts) || !parts.every((x) => typeof x === 'string')) throw new Error(`cluster identity piece ${name} is malformed`);
    return { version: row.version, parts: parts as string[] };
  }

  private local(p: IdentityPiece): string[] | null {
    if (p.files.length === 0) return null;
    const paths = p.files.map((f) => join(this.dataDir, f.file));
    if (!paths.every((f) => existsSync(f))) return null;
    return paths.map((f) => readFileSync(f, 'utf8'));
  }

  /** Writes the files of a piece (each atomically): whether there were none, different ones, or the same. */
  private write(p: IdentityPiece, parts: string[]): 'joined' | 'replaced' | 'same' {
    let how: 'joined' | 'replaced' | 'same' = 'same';
    p.files.forEach((f, i) => {
      const path = join(this.dataDir, f.file);
      const had = existsSync(path);
      if (had && readFileSync(path, 'utf8') === parts[i]) return;
      const tmp = `${path}.${process.pid}.tmp`;
      // Created afresh ('wx'), so the mode holds: a file left under that name (pid 1 in a
      // container is the same pid at every start) would keep its own mode and owner.
      rmSync(tmp, { force: true });
      writeFileSync(tmp, parts[i]!, { mode: f.mode, flag: 'wx' });
      renameSync(tmp, path);
      how = had ? 'replaced' : how === 'replaced' ? how : 'joined';
    });
    return how;
  }

  private async joinOne(p: IdentityPiece): Promise<IdentityOutcome> {
    let row = await this.read(p.name);
    let how: IdentityOutcome['how'];
    if (row) {
      how = this.write(p, row.parts);
    } else {
      const mine = this.local(p);
      const parts = mine ?? (await p.make());
      if (p.files.length && parts.length !== p.files.length) throw new Error(`cluster identity piece ${p.name}: made ${parts.length} parts for ${p.files.length} files`);
      const { dataKeyId, sealed } = await this.dataKeys.encrypt(JSON.stringify(parts), aad(p.name));
      const ins = await this.store.db
        .insertInto('clusterIdentity')
        .values({ name: p.name, dataKeyId, sealed, version: 1, updatedAt: Date.now() })
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirst();
      const won = Number(ins.numInsertedOrUpdatedRows ?? 0n) > 0;
      if (!won) await this.dataKeys.remove(dataKeyId);
      row = (await this.read(p.name))!;
      const wrote = this.write(p, row.parts);
      how = won ? (mine ? 'adopted' : 'created') : wrote;
    }
    this.held.set(p.name, row);
    return { name: p.name, how, version: row.version };
  }

  /**
   * Replaces a piece (a renewal or rotation made on this node), if nobody replaced it since
   * this node read it; false: another node did, and its value is now written here instead.
   */
  async replace(p: IdentityPiece, parts: string[]): Promise<boolean> {
    const held = this.held.get(p.name);
    if (!held) throw new Error(`cluster identity piece ${p.name} is not loaded`);
    const row = await this.store.db.selectFrom('clusterIdentity').select('dataKeyId').where('name', '=', p.name).executeTakeFirstOrThrow();
    const sealed = await this.dataKeys.reseal(row.dataKeyId, JSON.stringify(parts), aad(p.name));
    const upd = await this.store.db
      .updateTable('clusterIdentity')
      .set({ sealed, version: held.version + 1, updatedAt: Date.now() })
      .where('name', '=', p.name)
      .where('version', '=', held.version)
      .executeTakeFirst();
    if (Number(upd.numUpdatedRows) > 0) {
      this.held.set(p.name, { version: held.version + 1, parts });
      this.write(p, parts);
      return true;
    }
    const now = (await this.read(p.name))!;
    this.held.set(p.name, now);
    this.write(p, now.parts);
    return false;
  }

  /**
   * Pieces another node replaced since this node read them: their new values are written to
   * this node's files and returned by name (the caller reloads what uses them).
   */
  async changed(pieces: IdentityPiece[]): Promise<string[]> {
    const rows = await this.store.db.selectFrom('clusterIdentity').select(['name', 'version']).execute();
    const out: string[] = [];
    for (const r of rows) {
      const held = this.held.get(r.name);
      const p = pieces.find((x) => x.name === r.name);
      if (!held || !p || held.version === r.version) continue;
      const now = (await this.read(r.name))!;
      this.held.set(r.name, now);
      this.write(p, now.parts);
      out.push(r.name);
    }
    return out;
  }
}
