// A real OpenLDAP slapd (Debian's 2.5) on loopback for the tests: its own cn=config made with
// slapadd from a generated LDIF, an mdb database, the ppolicy overlay (locks accounts through
// pwdAccountLockedTime and hashes cleartext userPassword writes), plain LDAP with StartTLS and
// LDAPS, both with a certificate signed by a CA made here with openssl. The directory tree is
// a parameter (users, groups, extra LDIF) with a default that serves the account operator
// tests (issue 12) and directory sign-in (issue 15): people, groups with a nested group, a
// locked user, an OU for just-in-time accounts, and a management (service) account whose ACL
// lets it write people, groups and the JIT OU. Everything lives in one temp dir, removed by stop().
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './sshd.js';

export interface SlapdUser {
  uid: string;
  password: string;
  /** Defaults to the uid. */
  cn?: string;
  sn?: string;
  mail?: string;
  /** The OU (under the suffix) the entry lives in; default 'people'. */
  ou?: string;
  /** Adds posixAccount (uidNumber = gidNumber = this, home /home/<uid>). */
  posixId?: number;
  /** Locked by the ppolicy overlay (pwdAccountLockedTime 000001010000Z): a bind is refused. */
  disabled?: boolean;
}

export interface SlapdGroup {
  cn: string;
  /** uids of seeded users, cns of seeded groups (nesting), or full DNs. groupOfNames needs one at least. */
  members: string[];
}

export interface SlapdSeed {
  users: SlapdUser[];
  groups: SlapdGroup[];
  /** The management (service) account: write access to people, groups and jit. */
  service: { cn: string; password: string };
  /** Appended to the generated tree as is (entries under the suffix). */
  extraLdif?: string;
}

export const DEFAULT_SUFFIX = 'dc=gatehouse,dc=test';

/** Distinctive passwords, so leak tests can search for them. */
export const DEFAULT_SEED: SlapdSeed = {
  users: [
    { uid: 'alice', password: 'Alice-Ldap-Pw-4411', cn: 'Alice Admin', sn: 'Admin', mail: 'alice@gatehouse.test', posixId: 10001 },
    { uid: 'bob', password: 'Bob-Ldap-Pw-5522', cn: 'Bob Operator', sn: 'Operator', mail: 'bob@gatehouse.test', posixId: 10002 },
    { uid: 'dave', password: 'Dave-Ldap-Pw-7744', cn: 'Dave Developer', sn: 'Developer', mail: 'dave@gatehouse.test', posixId: 10004 },
    { uid: 'carol', password: 'Carol-Ldap-Pw-6633', cn: 'Carol Locked', sn: 'Locked', mail: 'carol@gatehouse.test', posixId: 10003, disabled: true },
    { uid: 'eve', password: 'Eve-Admins-Ou-Pw-8855', cn: 'Eve Elsewhere', sn: 'Elsewhere', ou: 'admins' },
  ],
  groups: [
    { cn: 'admins', members: ['alice'] },
    { cn: 'operators', members: ['bob'] },
    { cn: 'dbadmins', members: ['alice'] },
    // Nested: staff holds operators (a group) and dave.
    { cn: 'staff', members: ['operators', 'dave'] },
  ],
  service: { cn: 'gatehouse-mgmt', password: 'Mgmt-Ldap-Bind-Pw-9966' },
};

export interface Slapd {
  /** ldap://127.0.0.1:<port> (StartTLS offered). */
  url: string;
  /** ldaps://127.0.0.1:<port>. */
  ldapsUrl: string;
  port: number;
  ldapsPort: number;
  /** PEM of the CA that signed the server certificate (the file lives until stop()). */
  caFile: string;
  suffix: string;
  adminDn: string;
  adminPassword: string;
  serviceDn: string;
  servicePassword: string;
  peopleOu: string;
  groupsOu: string;
  jitOu: string;
  seed: SlapdSeed;
  /** DN of a seeded user by uid. */
  userDn(uid: string): string;
  groupDn(cn: string): string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** {SSHA} as slappasswd writes it. */
export function sshaHash(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(Buffer.from(password, 'utf8')).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** An LDIF line, base64 when the value is not a safe string (RFC 2849). */
function line(attr: string, value: string): string {
  return /^[\x21-\x39\x3b\x3d-\x7f][\x20-\x7f]*$/.test(value) && !value.endsWith(' ') ? `${attr}: ${value}` : `${attr}:: ${Buffer.from(value, 'utf8').toString('base64')}`;
}

function configLdif(dir: string, suffix: string, adminDn: string, adminPassword: string, serviceDn: string): string {
  const ou = (name: string) => `ou=${name},${suffix}`;
  return [
    'dn: cn=config',
    'objectClass: olcGlobal',
    'cn: config',
    `olcPidFile: ${join(dir, 'slapd.pid')}`,
    `olcArgsFile: ${join(dir, 'slapd.args')}`,
    `olcTLSCACertificateFile: ${join(dir, 'ca.pem')}`,
    `olcTLSCertificateFile: ${join(dir, 'server.pem')}`,
    `olcTLSCertificateKeyFile: ${join(dir, 'server.key')}`,
    'olcLogLevel: none',
    '',
    'dn: cn=module{0},cn=config',
    'objectClass: olcModuleList',
    'cn: module{0}',
    'olcModulePath: /usr/lib/ldap',
    'olcModuleLoad: back_mdb',
    'olcModuleLoad: ppolicy',
    '',
    'dn: cn=schema,cn=config',
    'objectClass: olcSchemaConfig',
    'cn: schema',
    '',
    'include: file:///etc/ldap/schema/core.ldif',
    '',
    'include: file:///etc/ldap/schema/cosine.ldif',
    '',
    'include: file:///etc/ldap/schema/nis.ldif',
    '',
    'include: file:///etc/ldap/schema/inetorgperson.ldif',
    '',
    'dn: olcDatabase={-1}frontend,cn=config',
    'objectClass: olcDatabaseConfig',
    'objectClass: olcFrontendConfig',
    'olcDatabase: {-1}frontend',
    'olcPasswordHash: {SSHA}',
    '',
    'dn: olcDatabase={0}config,cn=config',
    'objectClass: olcDatabaseConfig',
    'olcDatabase: {0}config',
    'olcAccess: {0}to * by * none',
    '',
    'dn: olcDatabase={1}mdb,cn=config',
    'objectClass: olcDatabaseConfig',
    'objectClass: olcMdbConfig',
    'olcDatabase: {1}mdb',
    `olcSuffix: ${suffix}`,
    `olcRootDN: ${adminDn}`,
    `olcRootPW: ${sshaHash(adminPassword)}`,
    `olcDbDirectory: ${join(dir, 'db')}`,
    'olcDbMaxSize: 67108864',
    'olcDbIndex: objectClass eq',
    'olcDbIndex: uid eq,sub',
    'olcDbIndex: cn eq,sub',
    'olcDbIndex: member eq',
    // Passwords: each account changes its own; the management account sets any below people/jit;
    // anyone may use one to bind; nobody reads one.
    `olcAccess: {0}to attrs=userPassword by self write by dn.exact="${serviceDn}" write by anonymous auth by * none`,
    `olcAccess: {1}to dn.subtree="${ou('people')}" by dn.exact="${serviceDn}" write by users read by * none`,
    `olcAccess: {2}to dn.subtree="${ou('groups')}" by dn.exact="${serviceDn}" write by users read by * none`,
    `olcAccess: {3}to dn.subtree="${ou('jit')}" by dn.exact="${serviceDn}" write by users read by * none`,
    `olcAccess: {4}to * by users read by * none`,
    '',
    'dn: olcOverlay={0}ppolicy,olcDatabase={1}mdb,cn=config',
    'objectClass: olcOverlayConfig',
    'objectClass: olcPPolicyConfig',
    'olcOverlay: {0}ppolicy',
    `olcPPolicyDefault: cn=default,${ou('policies')}`,
    'olcPPolicyHashCleartext: TRUE',
    '',
  ].join('\n');
}

function dataLdif(suffix: string, seed: SlapdSeed, serviceDn: string): string {
  const dc = /^dc=([^,]+)/.exec(suffix)?.[1] ?? 'test';
  const entries: string[][] = [
    [`dn: ${suffix}`, 'objectClass: top', 'objectClass: dcObject', 'objectClass: organization', `dc: ${dc}`, 'o: Gatehouse test directory'],
  ];
  const ous = new Set(['people', 'groups', 'jit', 'services', 'policies', ...seed.users.map((u) => u.ou ?? 'people')]);
  for (const o of ous) entries.push([`dn: ou=${o},${suffix}`, 'objectClass: organizationalUnit', `ou: ${o}`]);
  // The default password policy: applies to userPassword; no automatic lockout on failures (a
  // test's wrong password must not lock anybody out: pwdMaxFailure 0), but pwdAccountLockedTime set
  // by hand locks (ppolicy enforces it only with pwdLockout TRUE).
  entries.push([`dn: cn=default,ou=policies,${suffix}`, 'objectClass: device', 'objectClass: pwdPolicy', 'cn: default', 'pwdAttribute: userPassword', 'pwdLockout: TRUE', 'pwdMaxFailure: 0']);
  entries.push([`dn: ${serviceDn}`, 'objectClass: organizationalRole', 'objectClass: simpleSecurityObject', `cn: ${seed.service.cn}`, line('userPassword', sshaHash(seed.service.password))]);
  const userDn = (u: SlapdUser) => `uid=${u.uid},ou=${u.ou ?? 'people'},${suffix}`;
  for (const u of seed.users) {
    const e = [`dn: ${userDn(u)}`, 'objectClass: inetOrgPerson', ...(u.posixId !== undefined ? ['objectClass: posixAccount'] : []), `uid: ${u.uid}`, line('cn', u.cn ?? u.uid), line('sn', u.sn ?? u.uid), line('userPassword', sshaHash(u.password))];
    if (u.mail) e.push(`mail: ${u.mail}`);
    if (u.posixId !== undefined) e.push(`uidNumber: ${u.posixId}`, `gidNumber: ${u.posixId}`, `homeDirectory: /home/${u.uid}`, 'loginShell: /bin/bash');
    if (u.disabled) e.push('pwdAccountLockedTime: 000001010000Z');
    entries.push(e);
  }
  const groupNames = new Set(seed.groups.map((g) => g.cn));
  const memberDn = (m: string) => {
    if (m.includes('=')) return m;
    if (groupNames.has(m)) return `cn=${m},ou=groups,${suffix}`;
    const u = seed.users.find((x) => x.uid === m);
    if (!u) throw new Error(`seed: unknown member ${m}`);
    return userDn(u);
  };
  for (const g of seed.groups) {
    if (g.members.length === 0) throw new Error(`seed: group ${g.cn} needs a member (groupOfNames)`);
    entries.push([`dn: cn=${g.cn},ou=groups,${suffix}`, 'objectClass: groupOfNames', `cn: ${g.cn}`, ...g.members.map((m) => `member: ${memberDn(m)}`)]);
  }
  return entries.map((e) => e.join('\n')).join('\n\n') + '\n\n' + (seed.extraLdif ?? '');
}

/** A CA and a server certificate for 127.0.0.1/localhost signed by it (openssl, in `dir`). */
function makeCertificates(dir: string): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Gatehouse test LDAP CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
}

export interface SlapdOptions {
  suffix?: string;
  seed?: SlapdSeed;
  adminPassword?: string;
}

export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  const suffix = options.suffix ?? DEFAULT_SUFFIX;
  const seed = options.seed ?? DEFAULT_SEED;
  const adminPassword = options.adminPassword ?? 'Slapd-Root-Pw-1234';
  const adminDn = `cn=admin,${suffix}`;
  const serviceDn = `cn=${seed.service.cn},ou=services,${suffix}`;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-slapd-'));
  let proc: ChildProcess | undefined;
  try {
    mkdirSync(join(dir, 'config'));
    mkdirSync(join(dir, 'db'));
    makeCertificates(dir);
    writeFileSync(join(dir, 'config.ldif'), configLdif(dir, suffix, adminDn, adminPassword, serviceDn));
    writeFileSync(join(dir, 'data.ldif'), dataLdif(suffix, seed, serviceDn));
    execFileSync('slapadd', ['-n0', '-F', join(dir, 'config'), '-l', join(dir, 'config.ldif')], { stdio: 'pipe' });
    execFileSync('slapadd', ['-q', '-b', suffix, '-F', join(dir, 'config'), '-l', join(dir, 'data.ldif')], { stdio: 'pipe' });
    const port = await freePort();
    const ldapsPort = await freePort();
    const url = `ldap://127.0.0.1:${port}`;
    const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
    // -d 0: stay in the foreground (a child we can stop) without debug output.
    proc = spawn('/usr/sbin/slapd', ['-d', '0', '-F', join(dir, 'config'), '-h', `${url}/ ${ldapsUrl}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    try {
      await waitForPort(port);
      await waitForPort(ldapsPort);
    } catch (e) {
      throw new Error(`slapd did not start: ${stderr || (e as Error).message}`);
    }
    const p = proc;
    // A test process that ends without calling stop() (a crash, a closed output pipe) takes
    // its slapd with it rather than leaving it listening.
    const orphanGuard = () => {
      p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', orphanGuard);
    const userOu = (uid: string) => seed.users.find((u) => u.uid === uid)?.ou ?? 'people';
    return {
      url,
      ldapsUrl,
      port,
      ldapsPort,
      caFile: join(dir, 'ca.pem'),
      suffix,
      adminDn,
      adminPassword,
      serviceDn,
      servicePassword: seed.service.password,
      peopleOu: `ou=people,${suffix}`,
      groupsOu: `ou=groups,${suffix}`,
      jitOu: `ou=jit,${suffix}`,
      seed,
      userDn: (uid) => `uid=${uid},ou=${userOu(uid)},${suffix}`,
      groupDn: (cn) => `cn=${cn},ou=groups,${suffix}`,
      process: p,
      stop: async () => {
        process.removeListener('exit', orphanGuard);
        if (p.exitCode === null && p.signalCode === null) {
          p.kill('SIGTERM');
          await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)));
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    const err = e as Error & { stderr?: Buffer };
    throw new Error(`slapd setup failed: ${err.message}${err.stderr ? `\n${err.stderr.toString()}` : ''}`);
  }
}
