// Notifications of access requests by e-mail, when an SMTP relay is configured (settings
// smtpHost, smtpPort, smtpSecure, smtpFrom). The portal shows the same facts from the
// requests themselves; mail is best effort: a relay that refuses is logged, never fatal.
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Store } from '../../store/db.js';
import type { SettingsService } from '../settings.js';

export interface Mail {
  to: string[];
  subject: string;
  text: string;
}

export class Notifier {
  /** The latest delivery, for tests and callers that must wait for it. */
  last: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly settings: SettingsService,
    private readonly log: Logger,
  ) {}

  /** E-mail addresses of users (by id), skipping those without one. */
  async addressesOf(userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await this.store.db.selectFrom('users').select('email').where('id', 'in', userIds).where('enabled', '=', 1).execute();
    return [...new Set(rows.map((r) => r.email).filter((e): e is string => !!e))];
  }

  /** Sends in the background; resolves at once. */
  send(mail: Mail): void {
    this.last = this.deliver(mail).catch((err: Error) => {
      this.log.warn({ err: { message: err.message }, subject: mail.subject }, 'access notification e-mail could not be sent');
    });
  }

  private async deliver(mail: Mail): Promise<void> {
    if (mail.to.length === 0) return;
    const s = await this.settings.all();
    if (!s.smtpHost) return;
    const transport = nodemailer.createTransport({ host: s.smtpHost, port: s.smtpPort, secure: s.smtpSecure, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 });
    try {
      await transport.sendMail({ from: s.smtpFrom, to: mail.to, subject: mail.subject, text: mail.text });
    } finally {
      transport.close();
    }
  }
}
