// How a patch state looks in the matrix: a symbol for the eye, the word for screen
// readers and tooltips, a colour only as a third cue.
import { h } from './dom.js';

export const STATES = {
  installed: { symbol: '✓', word: 'installed' },
  failed: { symbol: '✗', word: 'failed' },
  available: { symbol: '●', word: 'missing (available)' },
  downloaded: { symbol: '◐', word: 'missing (downloaded)' },
  blocked: { symbol: '■', word: 'missing (blocked)' },
  uninstalled: { symbol: '○', word: 'missing (uninstalled)' },
  unreported: { symbol: '?', word: 'missing (not reported yet)' },
  superseded: { symbol: '↷', word: 'superseded' },
};

const NOT_RELEVANT = { symbol: '·', word: 'not relevant to this host' };

/** A matrix cell for `state` (undefined: the patch is not relevant to the host). */
export function stateCell(state, patchId) {
  const look = state === undefined ? NOT_RELEVANT : (STATES[state] ?? { symbol: '?', word: state });
  return h(
    'td',
    { class: `st st-${state ?? 'na'}`, title: `${patchId}: ${look.word}`, 'data-state': state ?? '' },
    h('span', { 'aria-hidden': 'true' }, look.symbol),
    h('span', { class: 'sr-only' }, look.word),
  );
}

/** The legend under the matrix. */
export function legend() {
  const items = [...Object.entries(STATES), ['na', NOT_RELEVANT]].map(([state, look]) =>
    h('li', {}, h('span', { class: `st st-${state}`, 'aria-hidden': 'true' }, look.symbol), ` ${look.word}`),
  );
  return h('ul', { class: 'legend', 'aria-label': 'Legend' }, ...items);
}
