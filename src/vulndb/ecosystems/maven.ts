/**
 * Maven version order: `org.apache.maven.artifact.versioning.ComparableVersion` as in Maven 3.9 and
 * later (apache/maven's current ComparableVersion; https://maven.apache.org/pom.html#version-order-specification).
 * A version is lower-cased and parsed into a list of items: numbers; qualifiers (known ones ordered
 * alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp, unknown ones after
 * them in lexical order; `a1`/`b1`/`m1` mean alpha-1/beta-1/milestone-1); combinations of a qualifier
 * and a number (`rc1`, and `X-1` read as `X1`); and sub-lists opened by `-`, by a letter/digit
 * transition, or by a qualifier after `.` (`1.0.X1 < 1.0-X2 < 1.0.1`). Null items (0, "", empty lists)
 * are trimmed where they do not change the order, and a list left with one sub-list is flattened.
 * Comparison rules beyond 3.8: a combination whose qualifier is release-like lets its number decide
 * against nothing (`1-ga1 > 1`), a sub-list against a qualifier or combination compares its first item
 * and then the rest against nothing. Numbers of any length compare numerically. Every string is a
 * Maven version (this comparator never throws).
 */
import { type Cmp, type Comparator, compareDigits } from './types.js';

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const RELEASE_QUALIFIERS = ['ga', 'final', 'release'];
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));

type Item = NumItem | StrItem | ComboItem | ListItem;
interface NumItem { kind: 'num'; digits: string }
interface StrItem { kind: 'str'; value: string }
interface ComboItem { kind: 'combo'; str: StrItem; num: Item }
interface ListItem { kind: 'list'; items: Item[] }

function strItem(value: string, followedByDigit: boolean): StrItem {
  let v = value;
  if (followedByDigit && v.length === 1) v = v === 'a' ? 'alpha' : v === 'b' ? 'beta' : v === 'm' ? 'milestone' : v;
  if (v === 'cr') v = 'rc';
  return { kind: 'str', value: v };
}

function comboItem(v: string): ComboItem {
  let index = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] >= '0' && v[i] <= '9') {
      index = i;
      break;
    }
  }
  return { kind: 'combo', str: strItem(v.slice(0, index), true), num: parseItem(false, true, v.slice(index)) };
}

function parseItem(combination: boolean, digit: boolean, buf: string): Item {
  if (combination) return comboItem(buf.replace(/-/g, ''));
  if (digit) return { kind: 'num', digits: buf.replace(/^0+(?=.)/, '') || '0' };
  return strItem(buf, false);
}

function isNull(it: Item): boolean {
  switch (it.kind) {
    case 'num':
      return /^0+$/.test(it.digits);
    case 'str':
      return it.value === '';
    case 'combo':
      return false;
    case 'list':
      return it.items.length === 0;
  }
}

function comparableQualifier(q: string): string {
  if (RELEASE_QUALIFIERS.includes(q)) return RELEASE_INDEX;
  const i = QUALIFIERS.indexOf(q);
  return i === -1 ? `${QUALIFIERS.length}-${q}` : String(i);
}

function strCmp(a: string, b: string): Cmp {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Item.compareTo(other) with `null` meaning "nothing there" (the padding of a shorter list). */
function cmpItem(a: Item, b: Item | null): Cmp {
  switch (a.kind) {
    case 'num':
      if (b === null) return isNull(a) ? 0 : 1;
      if (b.kind === 'num') return compareDigits(a.digits, b.digits);
      return 1; // a number beats any qualifier, combination or sub-list: 1.1 > 1-sp, 1.1 > 1-1
    case 'str':
      if (b === null) return strCmp(comparableQualifier(a.value), RELEASE_INDEX); // 1-rc < 1 = 1-ga < 1-sp
      switch (b.kind) {
        case 'num':
          return -1;
        case 'str':
          return strCmp(comparableQualifier(a.value), comparableQualifier(b.value));
        case 'list':
          return neg(cmpItem(b, a));
        case 'combo': {
          const r = cmpItem(a, b.str);
          if (r !== 0) return r;
          // same qualifier: a release-like qualifier (ga, final, "") lets the combination's number decide
          return cmpItem(a, null) === 0 ? neg(cmpItem(b.num, null)) : -1;
        }
      }
      break;
    case 'combo':
      if (b === null) {
        const r = cmpItem(a.str, null);
        return r !== 0 ? r : cmpItem(a.num, null); // 1-ga1 > 1, 1-rc1 < 1
      }
      switch (b.kind) {
        case 'num':
          return -1;
        case 'list':
          return neg(cmpItem(b, a));
        case 'str': {
          const r = cmpItem(a.str, b);
          if (r !== 0) return r;
          return cmpItem(a.str, null) === 0 ? cmpItem(a.num, null) : 1; // X1 > X
        }
        case 'combo':
          return cmpItem(a.str, b.str) || cmpItem(a.num, b.num);
      }
      break;
    case 'list':
      if (b === null) {
        // the whole list against nothing, not just its first item (MNG-6964)
        for (const it of a.items) {
          const r = cmpItem(it, null);
          if (r) return r;
        }
        return 0;
      }
      switch (b.kind) {
        case 'num':
          return -1; // 1-1 < 1.0.x
        case 'str':
        case 'combo': {
          // a sub-list against a qualifier: its first item decides, the rest must be "nothing"
          let r: Cmp = a.items.length === 0 ? neg(cmpItem(b, null)) : cmpItem(a.items[0], b);
          for (let i = 1; r === 0 && i < a.items.length; i++) r = cmpItem(a.items[i], null);
          return r;
        }
        case 'list':
          for (let i = 0; i < Math.max(a.items.length, b.items.length); i++) {
            const l = i < a.items.length ? a.items[i] : null;
            const r = i < b.items.length ? b.items[i] : null;
            const c = l === null ? (r === null ? 0 : neg(cmpItem(r, null))) : cmpItem(l, r);
            if (c) return c;
          }
          return 0;
      }
  }
  return 0;
}

function neg(c: Cmp): Cmp {
  return (c === 0 ? 0 : -c) as Cmp;
}

function normalize(list: ListItem): void {
  const items = list.items;
  for (let i = items.length - 1; i >= 0; i--) {
    if (!isNull(items[i])) continue;
    if (i === items.length - 1 || items[i + 1].kind === 'str') items.splice(i, 1);
    else if (items[i + 1].kind === 'list') {
      const first = (items[i + 1] as ListItem).items[0];
      if (first && (first.kind === 'combo' || first.kind === 'str')) items.splice(i, 1);
    }
  }
  // dropping a zero prefix must not leave an extra level of nesting: [[rc, 1]] becomes [rc, 1]
  if (items.length === 1 && items[0].kind === 'list') list.items = items[0].items;
}

function isDigitChar(c: string): boolean {
  return c >= '0' && c <= '9';
}

/** Parses a Maven version into ComparableVersion's item tree. */
export function parseMavenVersion(version: string): ListItem {
  const v = version.toLowerCase();
  const root: ListItem = { kind: 'list', items: [] };
  let list = root;
  const stack: ListItem[] = [root];
  let isDigit = false;
  let isCombination = false;
  let start = 0;
  const push = (): void => {
    const n: ListItem = { kind: 'list', items: [] };
    list.items.push(n);
    list = n;
    stack.push(n);
  };
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c === '.') {
      list.items.push(i === start ? { kind: 'num', digits: '0' } : parseItem(isCombination, isDigit, v.slice(start, i)));
      isCombination = false;
      start = i + 1;
    } else if (c === '-') {
      if (i === start) list.items.push({ kind: 'num', digits: '0' });
      else {
        // X-1 is treated as X1
        if (!isDigit && i !== v.length - 1 && isDigitChar(v[i + 1])) {
          isCombination = true;
          continue;
        }
        list.items.push(parseItem(isCombination, isDigit, v.slice(start, i)));
      }
      start = i + 1;
      if (list.items.length) push();
      isCombination = false;
    } else if (isDigitChar(c)) {
      if (!isDigit && i > start) {
        isCombination = true;
        if (list.items.length) push();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.items.push(parseItem(isCombination, true, v.slice(start, i)));
        start = i;
        push();
        isCombination = false;
      }
      isDigit = false;
    }
  }
  if (v.length > start) {
    // treat .X as -X for any string qualifier X
    if (!isDigit && list.items.length) push();
    list.items.push(parseItem(isCombination, isDigit, v.slice(start)));
  }
  while (stack.length) normalize(stack.pop() as ListItem);
  return root;
}

/** Compares two Maven versions (ComparableVersion.compareTo). */
export function compareMaven(a: string, b: string): Cmp {
  return cmpItem(parseMavenVersion(a), parseMavenVersion(b));
}

/** The Maven comparator. */
export const maven: Comparator = { name: 'maven', compare: compareMaven };
