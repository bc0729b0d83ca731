/**
 * DOM building without HTML parsing: every string from the API (image, package and advisory names
 * are chosen by whoever pushes) becomes a text node or an attribute value, never markup.
 */

/** Children accepted by {@link h}: nodes, text (as text nodes), or nothing. */
export type Child = Node | string | number | null | undefined | false | Child[];

/** Attributes and event handlers of {@link h}: `on*` functions become listeners; the rest attributes. */
export type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;

/** Creates an HTML element with attributes and children (text is never parsed as HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

/** Creates an SVG element (attributes set as values, children as {@link h}). */
export function s(tag: string, attrs: Attrs | null = null, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs | null): void {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'href' && typeof v === 'string' && !/^(#|\/|\.\/)/.test(v)) throw new Error(`refusing link ${v.slice(0, 40)}: only in-app links`);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** Replaces the children of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A timestamp in the viewer's time zone (`Intl`), with the ISO instant as its machine-readable value. */
export function time(at: string | number | null | undefined): Node {
  if (at === null || at === undefined || at === '') return document.createTextNode('—');
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return document.createTextNode(String(at));
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }));
}

/** A decision or severity as a labelled badge: the word is always shown (never colour alone). */
export function badge(kind: 'd' | 'sev', word: string): HTMLElement {
  const safe = /^[a-z-]+$/.test(word) ? word : 'unknown';
  return h('span', { class: `badge ${kind}-${safe}` }, word);
}

/** A table with a caption (screen readers announce it) and header cells with scope. */
export function table(caption: string, head: string[], rows: Child[][], rowAttrs?: (i: number) => Attrs | null): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      null,
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.length ? rows.map((r, i) => h('tr', rowAttrs?.(i) ?? null, r.map((c) => h('td', null, c)))) : h('tr', null, h('td', { colspan: head.length }, 'Nothing to show.'))),
    ),
  );
}

/** Shortens a digest for display (the full value stays in the title and the link). */
export function shortDigest(d: string): string {
  return d.length > 19 ? `${d.slice(0, 19)}…` : d;
}
