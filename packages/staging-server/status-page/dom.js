// Building elements and formatting values. Text goes in as text nodes, never as HTML:
// host names, messages and patch titles come from clients and feeds.

/**
 * An element: h('td', { class: 'x', title: 'y' }, 'text', child, …). Attributes whose
 * value is null, undefined or false are left out; `true` sets an empty attribute.
 * @param {string} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attrs]
 * @param {...(Node | string | number | null | undefined)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(typeof child === 'object' ? child : String(child));
  }
  return el;
}

/** Replace the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

const numberFormat = new Intl.NumberFormat();

/** A count, formatted for people, its exact value in `value` (<data>). */
export function count(n) {
  return h('data', { value: n }, numberFormat.format(n));
}

/** 1536 -> "1.5 KiB"; the exact byte count stays in the <data> element's value. */
export function bytes(n) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 ? `${numberFormat.format(n)} bytes` : `${value.toFixed(1)} ${units[unit]}`;
  return h('data', { value: n, title: `${numberFormat.format(n)} bytes` }, text);
}

function pad(n) {
  return String(n).padStart(2, '0');
}

/** "2026-11-24 10:05 (3 min ago)" in the browser's time zone, the instant in `datetime`. */
export function time(iso) {
  if (iso === null || iso === undefined) return h('span', { class: 'none' }, 'never');
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return h('span', {}, String(iso));
  const local = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}`;
  return h('time', { datetime: at.toISOString(), title: at.toISOString() }, `${local} (${relative(at)})`);
}

/** "3 min ago", "in 2 h", "just now". */
export function relative(at, now = Date.now()) {
  const seconds = Math.round((at.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  const [amount, unit] =
    abs < 3600
      ? [Math.round(abs / 60), 'min']
      : abs < 86_400
        ? [Math.round(abs / 3600), 'h']
        : [Math.round(abs / 86_400), abs < 172_800 ? 'day' : 'days'];
  return seconds < 0 ? `${amount} ${unit} ago` : `in ${amount} ${unit}`;
}

/** A <dl> row pair; `field` names the API value shown (data-field, for readers and tests). */
export function row(term, value, field) {
  return [h('dt', {}, term), h('dd', { 'data-field': field }, value)];
}
