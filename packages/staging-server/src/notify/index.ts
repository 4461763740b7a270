// Mail notifications (docs/notifications.md).
export { createNotifier, disabledNotifier, NOTIFY_STATE_FILE } from './notifier.js';
export type { Notifier, NotifierOptions } from './notifier.js';
export { observeSyncs } from './sync-observer.js';
export { composeMail, escapeHtml } from './compose.js';
export { runNotifyTest, formatNotifyTest, testMail } from './notify-test.js';
export type { NotifyTestResult } from './notify-test.js';
export type { MailTransport, SendResult, SendSettings } from '@patchbay/core';
export type { Mail, Notice, NotifyStatus, NotifyEventKind } from './types.js';
export { NOTIFY_EVENTS } from './types.js';
