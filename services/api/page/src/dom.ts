/**
 * Builds DOM nodes. Text goes in as text nodes and attribute values through setAttribute, never
 * as markup, so nothing a course records (a name, a note, an alert's text) can inject HTML.
 */
export type Child = Node | string | null | undefined | false;

export interface Attrs {
  /** The element's text content. */
  readonly text?: string;
  readonly className?: string;
  readonly [attribute: string]: string | undefined;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  children: readonly Child[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined) continue;
    if (name === 'text') node.textContent = value;
    else if (name === 'className') node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child) node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

export function badge(text: string, cls: string): HTMLSpanElement {
  return el('span', { className: `badge ${cls}`, text });
}
