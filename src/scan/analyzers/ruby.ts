/**
 * lang/ruby: installed gems from `specifications/NAME-VERSION.gemspec` (RubyGems writes the
 * installed spec there: GEM_HOME/specifications, Debian's /usr/share/rubygems-integration/(all|VERSION)/
 * specifications). The spec is Ruby code; only its `s.name = "…"` and `s.version = "…"` assignments
 * are read (no evaluation), as trivy's gemspec parser does (pkg/dependency/parser/ruby/gemspec).
 * purl `pkg:gem/NAME@VERSION`, OSV ecosystem RubyGems.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl } from '../purl.js';

const WANT = /\/specifications\/[^/]+\.gemspec$/;
const NAME = /^\s*\w+\.name\s*=\s*(?:%q<([^>]+)>|["']([^"']+)["'])/m;
const VERSION = /^\s*\w+\.version\s*=\s*(?:Gem::Version\.new\(\s*)?(?:%q<([^>]+)>|["']([^"']+)["'])/m;

/** Reads name and version from a gemspec's text. */
export function parseGemspec(text: string, path: string): FoundPackage | undefined {
  const n = NAME.exec(text);
  const v = VERSION.exec(text);
  const name = n?.[1] ?? n?.[2];
  const version = v?.[1] ?? v?.[2];
  if (!name || !version) return undefined;
  return { ecosystem: 'RubyGems', name, version, path, purl: formatPurl({ type: 'gem', name, version }) };
}

/** The analyzer. */
export const rubyAnalyzer: Analyzer = {
  name: 'lang/ruby',
  version: 1,
  maxSize: 1024 * 1024,
  wants: (e) => WANT.test(e.path),
  names: { extensions: ['.gemspec'] },
  analyze(input) {
    const p = parseGemspec(input.content.toString('utf8'), input.path);
    return p ? { packages: [p] } : undefined;
  },
};
