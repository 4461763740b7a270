// Mail notifications (notify/): the notifier and its outbox. Closes after the mirror and the
// HTTP side, so that a sync ending and reports arriving during the close are still mailed
// (or persisted in the outbox).
import { createNotifier } from '../notify/notifier.js';
import { partPlugin } from './lifecycle-plugin.js';

/** Decorates `notifier` (a no-op one when notify is not configured). */
export const notifierPlugin = partPlugin({
  name: 'patchbay-notifier',
  decorator: 'notifier',
  part: 'notifier',
  dependencies: ['patchbay-data-dir'],
  open: ({ config, logger }) => createNotifier(config.notify, logger, { dataDir: config.dataDir }),
  close: (notifier) => notifier.close(),
});
