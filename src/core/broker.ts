// The one narrow interface between protocols and the core. A protocol front door never
// touches the database or the vault: it hands the core a ticket and gets back a plan
// that holds everything needed to reach the target, then reports what happens.
// (Implemented by the launch/session issues; the shape is fixed here.)
import type { Credential } from './vault/secrets.js';

export type ProtocolName = 'ssh' | 'telnet' | 'rdp';

export interface RedeemContext {
  /** Where the person's connection comes from (checked against an IP-bound ticket). */
  clientIp: string;
  /** Which front door saw the ticket. */
  door: 'ssh' | 'rdp' | 'web';
}

export interface ConnectPlan {
  sessionId: string;
  user: { id: string; username: string };
  protocol: ProtocolName;
  target: { host: string; port: number };
  credential: Credential;
  launcher: { id: string; record: boolean; recordKeystrokes: boolean; idleTimeoutSeconds: number; maxDurationSeconds: number; allowPortForwarding: boolean };
}

export type SessionEvent =
  | { type: 'started' }
  | { type: 'output'; data: Buffer }
  | { type: 'input'; data: Buffer }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'note'; kind: string; details: Record<string, unknown> }
  | { type: 'ended'; reason: string };

export interface SessionHandle {
  readonly plan: ConnectPlan;
  event(e: SessionEvent): void;
  /** Resolves when an auditor or a timer ends the session; the reason is shown to the person. */
  readonly terminated: Promise<string>;
}

export interface SessionBroker {
  /** Redeems a single-use ticket atomically. Rejects with a generic error; the exact reason goes to log and audit. */
  redeem(ticket: string, ctx: RedeemContext): Promise<SessionHandle>;
}

export class TicketRefused extends Error {
  constructor(readonly reason: 'unknown' | 'used' | 'expired' | 'ip_mismatch' | 'permission_withdrawn') {
    super('ticket refused');
  }
}
