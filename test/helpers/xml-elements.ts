// A strict reader for small, plain XML files (a WinSW service config): elements, attributes,
// text, comments and the XML declaration; no DTD, CDATA or namespaces. It throws on anything
// that is not well-formed (a tag left open or closed out of order, a second root, a stray `<`
// or `&`), so a test reading a file through it also checks that the file parses.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** the element's own text, entities decoded, trimmed */
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(raw: string, at: number): string {
  return raw.replace(/&([^;\s&]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw new Error(`XML: a bare "&" near offset ${at}`);
    const code = /^#x([0-9a-f]+)$/i.exec(name)?.[1] ?? /^#([0-9]+)$/.exec(name)?.[1];
    if (code !== undefined) return String.fromCodePoint(parseInt(code, name[1] === 'x' ? 16 : 10));
    const text = ENTITIES[name];
    if (text === undefined) throw new Error(`XML: unknown entity &${name}; near offset ${at}`);
    return text;
  });
}

const NAME = '[A-Za-z_][\\w.-]*';
const TAG = new RegExp(`^<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`);
const ATTRIBUTE = new RegExp(`(${NAME})\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'g');

/** The document's root element; throws naming the offset where it is not well-formed. */
export function parseXml(source: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let pos = 0;
  const skip = (open: string, close: string): boolean => {
    if (!source.startsWith(open, pos)) return false;
    const end = source.indexOf(close, pos + open.length);
    if (end < 0) throw new Error(`XML: "${open}" at offset ${pos} is never closed`);
    pos = end + close.length;
    return true;
  };
  while (pos < source.length) {
    if (skip('<?', '?>') || skip('<!--', '-->')) continue;
    if (source[pos] !== '<') {
      const end = source.indexOf('<', pos);
      const raw = source.slice(pos, end < 0 ? source.length : end);
      const top = stack.at(-1);
      if (top) top.text = (top.text + decode(raw, pos)).trim();
      else if (raw.trim() !== '') throw new Error(`XML: text outside the root element at offset ${pos}`);
      pos += raw.length;
      continue;
    }
    const tag = TAG.exec(source.slice(pos));
    if (!tag) throw new Error(`XML: not a tag at offset ${pos}: ${source.slice(pos, pos + 30)}`);
    const [whole, closing, name = '', attrs = '', selfClosing] = tag;
    if (closing) {
      const open = stack.pop();
      if (open?.name !== name)
        throw new Error(`XML: </${name}> at offset ${pos} closes <${open?.name ?? 'nothing'}>`);
    } else {
      const element: XmlElement = { name, attributes: {}, children: [], text: '' };
      for (const [, key = '', dq, sq] of attrs.matchAll(ATTRIBUTE)) {
        if (key in element.attributes) throw new Error(`XML: attribute ${key} twice at offset ${pos}`);
        element.attributes[key] = decode(dq ?? sq ?? '', pos);
      }
      const parent = stack.at(-1);
      if (parent) parent.children.push(element);
      else if (root) throw new Error(`XML: a second root element <${name}> at offset ${pos}`);
      else root = element;
      if (!selfClosing) stack.push(element);
    }
    pos += whole.length;
  }
  if (stack.length > 0) throw new Error(`XML: <${stack.at(-1)?.name}> is never closed`);
  if (!root) throw new Error('XML: no root element');
  return root;
}
