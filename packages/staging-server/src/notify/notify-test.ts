// patchbay-server notify-test: one test mail through the configured SMTP settings,
// and the SMTP server's answer as it was given.
import { hostname as osHostname } from 'node:os';
import { errorMessage, type NotifyConfig } from '@patchbay/core';
import { escapeHtml } from './compose.js';
import {
  addressList,
  createSmtpTransport,
  sendSettings,
  type MailTransport,
  type SendSettings,
} from '@patchbay/core';
import type { Mail } from './types.js';

export interface NotifyTestResult {
  ok: boolean;
  /** the SMTP server's last answer (e.g. "250 2.0.0 Ok: queued as …") */
  response: string | null;
  accepted: string[];
  rejected: string[];
  messageId: string | null;
  /** why it failed, when it did */
  error: string | null;
  smtp: { host: string; port: number; secure: boolean };
  from: string;
  to: string[];
}

export function testMail(config: NotifyConfig, now: Date, serverName = osHostname()): Mail {
  const prefix = config.subjectPrefix ?? '[patchbay]';
  const lines = [
    'This is a test mail from the patchbay staging server.',
    `Sent at ${now.toISOString()} from ${serverName} with the notify settings of its config.`,
    `Events that mail: ${(config.events ?? []).join(', ') || 'none'}; digest: ${config.digest ?? 'off'}.`,
  ];
  return {
    subject: `${prefix} test mail from ${serverName}`,
    text: `${lines.join('\n')}\n`,
    html: `<!doctype html><html><body>${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}</body></html>\n`,
  };
}

/** null when notify (smtp.host, from, to) is not configured. */
export async function runNotifyTest(
  config: NotifyConfig | undefined,
  options: { transportFactory?: (settings: SendSettings) => MailTransport; now?: Date } = {},
): Promise<NotifyTestResult | null> {
  const settings = config ? sendSettings(config) : null;
  if (!config || !settings) return null;
  const result: NotifyTestResult = {
    ok: false,
    response: null,
    accepted: [],
    rejected: [],
    messageId: null,
    error: null,
    smtp: {
      host: settings.smtp.host,
      port: settings.smtp.port ?? 587,
      secure: settings.smtp.secure ?? false,
    },
    from: settings.from,
    to: settings.to,
  };
  const transport = (options.transportFactory ?? createSmtpTransport)(settings);
  try {
    const mail = testMail(config, options.now ?? new Date());
    const info = await transport.sendMail({ from: settings.from, to: settings.to, ...mail });
    result.response = info.response ?? null;
    result.accepted = addressList(info.accepted);
    result.rejected = addressList(info.rejected);
    result.messageId = info.messageId ?? null;
    result.ok = result.accepted.length > 0;
    if (!result.ok) result.error = 'the SMTP server accepted no recipient';
  } catch (err) {
    // nodemailer's errors carry the server's answer (response) and which step failed (command).
    const details = err as { response?: string; command?: string; rejected?: string[] };
    result.response = details.response ?? null;
    result.rejected = details.rejected ?? [];
    result.error = `${details.command ? `${details.command}: ` : ''}${errorMessage(err)}`;
  } finally {
    transport.close();
  }
  return result;
}

export function formatNotifyTest(result: NotifyTestResult): string {
  const lines = [
    result.ok ? 'test mail sent' : `test mail not sent: ${result.error ?? 'unknown error'}`,
    `  smtp:      ${result.smtp.host}:${result.smtp.port}${result.smtp.secure ? ' (TLS)' : ''}`,
    `  from:      ${result.from}`,
    `  to:        ${result.to.join(', ')}`,
    `  response:  ${result.response ?? '(none)'}`,
    `  accepted:  ${result.accepted.join(', ') || '(none)'}`,
  ];
  if (result.rejected.length > 0) lines.push(`  rejected:  ${result.rejected.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
