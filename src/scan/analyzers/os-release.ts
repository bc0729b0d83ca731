/**
 * os/release: identifies the distribution from `/etc/os-release` (or `/usr/lib/os-release`,
 * freedesktop os-release(5)), `/etc/lsb-release`, `/etc/alpine-release`, `/etc/debian_version`
 * and `/etc/redhat-release` (also centos-/rocky-/almalinux-/oracle-/fedora-/amazon-linux-/system-release). The best hint wins
 * (os-release first); the OSV ecosystem is derived in {@link osvEcosystem}.
 */
import { osEcosystemFor } from '../../core/os-table.js';
import type { Analyzer, OsHint } from './types.js';

/** The release files by priority (a Map: `wants` asks it of every file of every layer). */
const FILES = new Map<string, number>(Object.entries({
  '/etc/os-release': 100,
  '/usr/lib/os-release': 99,
  '/etc/lsb-release': 80,
  '/etc/alpine-release': 60,
  '/etc/redhat-release': 60,
  '/etc/centos-release': 61,
  '/etc/rocky-release': 62,
  '/etc/almalinux-release': 62,
  // Oracle Linux also ships a /etc/redhat-release naming Red Hat: its own file must win
  '/etc/oracle-release': 63,
  '/etc/system-release': 55,
  // Fedora and Amazon Linux 2023 keep the release line under /usr/lib and link /etc's names to it
  // (fedora-release.spec: /etc/fedora-release → ../usr/lib/fedora-release, redhat-release and
  // system-release → fedora-release): read under every name, or those links hide what they reach.
  '/etc/fedora-release': 61,
  '/usr/lib/fedora-release': 61,
  '/etc/amazon-linux-release': 61,
  '/usr/lib/amazon-linux-release': 61,
  '/etc/debian_version': 40,
}));

/** Parses shell-style `KEY="value"` lines (os-release(5), lsb-release). */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let v = line.slice(eq + 1).trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[line.slice(0, eq).trim()] = v.replace(/\\(["$`\\])/g, '$1');
  }
  return out;
}

const RH_RE = /^(.*?) release (\d+(?:\.\d+)*)/i;

function parseRelease(path: string, text: string): OsHint | undefined {
  const priority = FILES.get(path)!;
  const first = text.split(/\r?\n/)[0]?.trim() ?? '';
  if (path.endsWith('os-release')) {
    const kv = parseKeyValues(text);
    if (!kv.ID) return undefined;
    const idLike = kv.ID_LIKE ? kv.ID_LIKE.toLowerCase().split(/\s+/).filter(Boolean) : undefined;
    return { id: kv.ID.toLowerCase(), versionId: kv.VERSION_ID, version: kv.VERSION, idLike, prettyName: kv.PRETTY_NAME, codename: kv.VERSION_CODENAME, priority };
  }
  if (path === '/etc/lsb-release') {
    const kv = parseKeyValues(text);
    if (!kv.DISTRIB_ID) return undefined;
    return { id: kv.DISTRIB_ID.toLowerCase(), versionId: kv.DISTRIB_RELEASE, prettyName: kv.DISTRIB_DESCRIPTION, codename: kv.DISTRIB_CODENAME, priority };
  }
  if (path === '/etc/alpine-release') return first ? { id: 'alpine', versionId: first, priority } : undefined;
  if (path === '/etc/debian_version') return first ? { id: 'debian', versionId: first, priority } : undefined;
  const m = RH_RE.exec(first);
  if (!m) return undefined;
  const name = m[1].toLowerCase();
  const id = name.includes('rocky') ? 'rocky' : name.includes('alma') ? 'almalinux' : name.includes('centos') ? 'centos'
    : name.includes('fedora') ? 'fedora' : name.includes('amazon') ? 'amzn' : name.includes('oracle') ? 'ol' : 'rhel';
  return { id, versionId: m[2], prettyName: first, priority };
}

/** The analyzer. */
export const osReleaseAnalyzer: Analyzer = {
  name: 'os/release',
  version: 3,
  maxSize: 64 * 1024,
  wants: (e) => FILES.has(e.path),
  names: { paths: [...FILES.keys()] },
  // The parser {@link parseRelease} picks by name: os-release(5) under both names, lsb-release's
  // DISTRIB_ keys, the bare alpine-release and debian_version texts, and one `NAME release X` line
  // for the Red Hat family (CentOS's and Rocky's redhat- and system-release link to their own
  // file). The priority of a name is not part of the reading: it only orders hints.
  readsAs: (p) => (p.endsWith('os-release') ? 'os-release' : p === '/etc/lsb-release' || p === '/etc/alpine-release' || p === '/etc/debian_version' ? p : 'redhat-release'),
  analyze(input) {
    const os = parseRelease(input.path, input.content.toString('utf8'));
    return os ? { os } : undefined;
  },
};

/**
 * The OSV ecosystem (with release) for an OS, by the OS table (src/core/os-table.ts): `Debian:12`,
 * `Ubuntu:22.04:LTS`, `Alpine:v3.19`, `Red Hat:enterprise_linux:9`, `Rocky Linux:9`, `AlmaLinux:9`,
 * `SUSE:Linux Enterprise Server 15 SP5`, `openSUSE:Leap 15.5`, `Wolfi`, `Chainguard`. Undefined for an OS
 * OSV has no advisories for (Amazon Linux, Oracle Linux, Fedora, CentOS, CBL-Mariner, unknown IDs).
 */
export function osvEcosystem(id: string, versionId?: string, version?: string): string | undefined {
  return osEcosystemFor({ id, versionId, version });
}

/** Debian's `debian_version` holds `12.5` or `bookworm/sid`; only numeric values name a release. */
export function debianMajor(debianVersion: string | undefined): string | undefined {
  const m = /^(\d+)/.exec(debianVersion ?? '');
  return m ? m[1] : undefined;
}
