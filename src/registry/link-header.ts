/**
 * The `Link` header field as RFC 8288 (§3) defines it, for the `rel="next"` pagination of registry
 * listings (distribution-spec "Listing Tags"; Distribution writes `Link: </v2/…?last=x&n=100>; rel="next"`,
 * registry/handlers/tags.go and catalog.go):
 *
 *     Link       = #link-value
 *     link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
 *     link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
 *
 * `#` is RFC 9110's list (§5.6.1: elements separated by commas, empty elements ignored). A comma or
 * semicolon inside `<…>` or a quoted string belongs to it. `rel` holds one or more relation types
 * separated by spaces (§3.3), compared without regard to ASCII case; a `rel` after the first in one
 * link-value is ignored (§3.3: "MUST be ignored by parsers").
 */

/** One link-value: its target as written and its relation types (lower-cased). */
export interface LinkValue {
  /** The URI-Reference between `<` and `>`, unresolved. */
  target: string;
  /** The relation types of the first `rel` parameter, lower-cased; empty when there is none. */
  rels: string[];
}

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a whole `Link` field value (several header lines joined with `, `, as Node joins them).
 * @returns the link-values in order
 * @throws Error naming the offset and what was expected, for anything the grammar does not allow
 */
export function parseLinkHeader(field: string): LinkValue[] {
  const out: LinkValue[] = [];
  let i = 0;
  const n = field.length;
  const ows = (): void => { while (i < n && (field[i] === ' ' || field[i] === '\t')) i++; };
  const bad = (what: string): Error => new Error(`${what} at offset ${i}`);
  const token = (): string => {
    const s = i;
    while (i < n && TCHAR.test(field[i]!)) i++;
    return field.slice(s, i);
  };
  const quoted = (): string => {
    // RFC 9110 §5.6.4: qdtext or a quoted-pair (`\` and any visible character, space or tab).
    i++;
    let v = '';
    while (i < n && field[i] !== '"') {
      if (field[i] === '\\') {
        if (i + 1 >= n) throw bad('an unfinished quoted-pair');
        v += field[i + 1];
        i += 2;
      } else v += field[i++];
    }
    if (i >= n) throw bad('an unterminated quoted string');
    i++;
    return v;
  };
  while (i < n) {
    ows();
    if (field[i] === ',') { i++; continue; }
    if (i >= n) break;
    if (field[i] !== '<') throw bad('expected "<"');
    const close = field.indexOf('>', i + 1);
    if (close < 0) throw bad('an unterminated "<"');
    const target = field.slice(i + 1, close);
    i = close + 1;
    let rels: string[] | undefined;
    for (;;) {
      ows();
      if (i >= n || field[i] === ',') break;
      if (field[i] !== ';') throw bad('expected ";" or ","');
      i++;
      ows();
      const name = token().toLowerCase();
      if (!name) throw bad('expected a parameter name');
      ows();
      let value = '';
      if (field[i] === '=') {
        i++;
        ows();
        value = field[i] === '"' ? quoted() : token();
      }
      if (name === 'rel' && rels === undefined) rels = value.split(/[ \t]+/).filter(Boolean).map((r) => r.toLowerCase());
    }
    out.push({ target, rels: rels ?? [] });
  }
  return out;
}
