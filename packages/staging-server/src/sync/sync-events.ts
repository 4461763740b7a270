// A mirror's sync events: the service emits sync:start and sync:end, and mail (notify/) and
// metrics (metrics/) subscribe, instead of wrapping the service to see its syncs.
// An EventEmitter per mirror, not diagnostics_channel: channels are process-wide (a test
// process runs several mirrors) and a throwing channel subscriber is an uncaught exception.
import { EventEmitter } from 'node:events';
import { errorMessage, type Logger } from '@patchbay/core';
import type { SyncEventMap, SyncObservers } from '../mirror.js';

type Listener<E extends keyof SyncEventMap> = (...args: SyncEventMap[E]) => void;

export class SyncEvents implements SyncObservers {
  // Typed by SyncEventMap; the casts below only bridge @types/node's conditional listener type,
  // which TypeScript cannot resolve for a generic event name.
  private readonly emitter = new EventEmitter<SyncEventMap>();

  constructor(private readonly logger: Logger) {}

  on<E extends keyof SyncEventMap>(event: E, listener: Listener<E>): () => void {
    this.emitter.on(event, listener as never);
    return () => void this.emitter.off(event, listener as never);
  }

  /** Tell every observer; one that throws is logged, and neither the others nor the sync notice. */
  emit<E extends keyof SyncEventMap>(event: E, ...args: SyncEventMap[E]): void {
    for (const listener of this.emitter.listeners(event) as Listener<E>[]) {
      try {
        listener(...args);
      } catch (err) {
        this.logger.error({ event, err: errorMessage(err) }, 'a sync observer failed; the sync goes on');
      }
    }
  }
}
