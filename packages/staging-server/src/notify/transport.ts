// The SMTP side lives in @patchbay/core (mail-transport.ts), shared with the client's
// own mails in direct mode; re-exported here so the notifier's imports stay put.
export {
  DEFAULT_SMTP_TIMEOUT_SECONDS,
  addressList,
  createSmtpTransport,
  sendOne,
  sendSettings,
} from '@patchbay/core';
export type { MailTransport, SendResult, SendSettings } from '@patchbay/core';
