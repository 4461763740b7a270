// The SMTP side: a nodemailer transport built from notify.smtp, and one send.
import nodemailer from 'nodemailer';
import type { NotifyConfig } from '@patchbay/core';
import type { Mail } from './types.js';

/** What the notifier needs from a transport (nodemailer's, or a test's). */
export interface MailTransport {
  sendMail(message: {
    from: string;
    to: string[];
    subject: string;
    text: string;
    html: string;
  }): Promise<SendResult>;
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

/** A notify config with the parts sending needs present (core validated them). */
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

export function createSmtpTransport(settings: SendSettings): MailTransport {
  const { smtp } = settings;
  const timeoutMs = (smtp.timeoutSeconds ?? DEFAULT_SMTP_TIMEOUT_SECONDS) * 1000;
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port ?? 587,
    // secure: TLS from the first byte (465); otherwise STARTTLS when offered, required with requireTLS.
    secure: smtp.secure ?? false,
    requireTLS: smtp.requireTLS ?? false,
    ...(smtp.auth ? { auth: { user: smtp.auth.user, pass: smtp.auth.pass } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs * 2,
  });
  return {
    sendMail: (message) => transport.sendMail(message) as Promise<SendResult>,
    close: () => transport.close(),
  };
}

export function addressList(list: SendResult['accepted']): string[] {
  return (list ?? []).map((a) => (typeof a === 'string' ? a : a.address));
}

export async function sendOne(
  transport: MailTransport,
  settings: SendSettings,
  mail: Mail,
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
