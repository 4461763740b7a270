// The SMTP side shared by the staging server's notifier and the client's own mails
// (direct mode): a nodemailer transport built from notify.smtp, and one send.
// nodemailer is imported on first send, so programs that never mail never load it.
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import type { NotifyConfig } from './config.js';
import { ErrorCodes, errorMessage, PatchbayError } from './errors.js';
import { quittingSmtpTransport } from './smtp-quit-transport.js';

/** A composed mail, ready for any recipient list. */
export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

/** What a notifier needs from a transport (nodemailer's, or a test's). */
export interface MailTransport {
  sendMail(message: MailContent & { from: string; to: string[] }): Promise<SendResult>;
  close(): void;
}

/** The SMTP server's answer, as nodemailer reports it. */
export interface SendResult {
  messageId?: string;
  response?: string;
  accepted?: (string | { address: string })[];
  rejected?: (string | { address: string })[];
}

export const DEFAULT_SMTP_TIMEOUT_SECONDS = 30;

/** A notify config with the parts sending needs present (the config schema validated them). */
export interface SendSettings {
  smtp: NonNullable<NotifyConfig['smtp']> & { host: string };
  from: string;
  to: string[];
}

export function sendSettings(config: NotifyConfig): SendSettings | null {
  const host = config.smtp?.host;
  if (!host || !config.from || !config.to || config.to.length === 0) return null;
  return { smtp: { ...config.smtp, host }, from: config.from, to: config.to };
}

interface NodemailerTransport {
  sendMail(message: unknown): Promise<unknown>;
  close(): void;
}

/** notify.smtp.tls.ca read, as the TLS options of the STARTTLS upgrade (or of `secure`). */
async function tlsOptions(smtp: SendSettings['smtp']): Promise<ConnectionOptions> {
  const tls = smtp.tls ?? {};
  const options: ConnectionOptions = {};
  if (tls.ca) {
    try {
      options.ca = await readFile(tls.ca);
    } catch (err) {
      throw new PatchbayError(
        ErrorCodes.CONFIG,
        `notify.smtp.tls.ca ${tls.ca} is unreadable: ${errorMessage(err)}`,
        { key: 'notify.smtp.tls.ca', file: tls.ca },
        { cause: err },
      );
    }
  }
  // The name the certificate must carry, when the host is an IP or another alias.
  if (tls.servername) options.servername = tls.servername;
  if (tls.minVersion) options.minVersion = tls.minVersion;
  return options;
}

export function createSmtpTransport(settings: SendSettings): MailTransport {
  const { smtp } = settings;
  const timeoutMs = (smtp.timeoutSeconds ?? DEFAULT_SMTP_TIMEOUT_SECONDS) * 1000;
  let transport: Promise<NodemailerTransport> | undefined;
  const open = (): Promise<NodemailerTransport> =>
    (transport ??= (async () => {
      const [{ default: nodemailer }, { default: Connection }, tls] = await Promise.all([
        import('nodemailer'),
        import('nodemailer/lib/smtp-connection'),
        tlsOptions(smtp),
      ]);
      return nodemailer.createTransport(
        quittingSmtpTransport({
          Connection,
          connection: {
            host: smtp.host,
            port: smtp.port ?? 587,
            // secure: TLS from the first byte (465); otherwise STARTTLS when offered, required with requireTLS.
            secure: smtp.secure ?? false,
            requireTLS: smtp.requireTLS ?? false,
            tls,
            connectionTimeout: timeoutMs,
            greetingTimeout: timeoutMs,
            socketTimeout: timeoutMs * 2,
          },
          ...(smtp.auth ? { auth: { user: smtp.auth.user, pass: smtp.auth.pass } } : {}),
        }),
      );
    })());
  // A failed open (an unreadable CA file) is tried again at the next send.
  const opened = (): Promise<NodemailerTransport> =>
    open().catch((err: unknown) => {
      transport = undefined;
      throw err;
    });
  return {
    sendMail: async (message) => (await (await opened()).sendMail(message)) as SendResult,
    close: () => void transport?.then((t) => t.close()).catch(() => undefined),
  };
}

export function addressList(list: SendResult['accepted']): string[] {
  return (list ?? []).map((a) => (typeof a === 'string' ? a : a.address));
}

export async function sendOne(
  transport: MailTransport,
  settings: SendSettings,
  mail: MailContent,
): Promise<SendResult> {
  const result = await transport.sendMail({
    from: settings.from,
    to: settings.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
  });
  // nodemailer resolves when at least one recipient was accepted; none accepted is a failure.
  if (addressList(result.accepted).length === 0) {
    throw new Error(`SMTP server accepted no recipient: ${result.response ?? 'no answer'}`);
  }
  return result;
}
