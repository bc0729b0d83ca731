/**
 * os/dpkg-config: where dpkg reads its database. dpkg's administrative directory is `/var/lib/dpkg` unless
 * an option file says otherwise: dpkg loads `/etc/dpkg/dpkg.cfg.d/<name>` (names of `[A-Za-z0-9_-]` only),
 * `/etc/dpkg/dpkg.cfg` and `~/.dpkg.cfg` (lib/dpkg/options.c `dpkg_options_load`), whose lines are options
 * without their dashes: `admindir /opt/dpkg` (or `admindir=/opt/dpkg`, the value optionally quoted), or
 * `root /opt/r` (the database then in `/opt/r/var/lib/dpkg`). A Debian image with such a file and its
 * status there was, to `dpkg -l` in the container (the real dpkg in a chroot of the lab image), apt 2.0.0
 * installed, while the scan read `/var/lib/dpkg/status`, which no longer named apt: complete, no finding.
 * An `admindir` other than `/var/lib/dpkg` or a `root` other than `/` makes the scan incomplete
 * (`dpkg-admindir`). The image config's `DPKG_ADMINDIR` and `DPKG_ROOT` variables, which dpkg and
 * dpkg-query read too, are checked by the engine ({@link dpkgEnvDiagnostics}).
 */
import type { Diagnostic } from '../../core/index.js';
import type { Analyzer } from './types.js';

/**
 * The option files dpkg loads, as they sit in an image. `~/.dpkg.cfg` is under `$HOME`, which the image
 * config's `Env` or the user's /etc/passwd entry sets to any folder (`HOME=/srv` had the real dpkg read
 * `/srv/.dpkg.cfg`), so a `.dpkg.cfg` anywhere counts.
 */
const OPTION_FILE = /^(?:\/etc\/dpkg\/dpkg\.cfg|\/etc\/dpkg\/dpkg\.cfg\.d\/[A-Za-z0-9_-]+|(?:\/[^/]+)*\/\.dpkg\.cfg)$/;

const ADMINDIR = '/var/lib/dpkg';

/** A directory as dpkg compares nothing but the path: duplicate and trailing slashes dropped. */
function cleanDir(v: string): string {
  const s = v.replace(/\/+/g, '/');
  return s.length > 1 ? s.replace(/\/$/, '') : s;
}

/** What a value of option `name` moves the database to, or undefined when it leaves it at `/var/lib/dpkg`. */
function moved(name: 'admindir' | 'root', value: string): string | undefined {
  const v = cleanDir(value);
  if (name === 'admindir') return v === ADMINDIR ? undefined : v;
  return v === '/' || v === '' ? undefined : `${v}${ADMINDIR}`;
}

/** The `dpkg-admindir` diagnostics of one option file. */
export function dpkgOptionDiagnostics(text: string, path: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const raw of text.split('\n')) {
    // dpkg refuses a line with leading blanks, so reading it anyway only ever says more
    const m = /^\s*(?:--)?(admindir|root)(?:[ \t]*=[ \t]*|[ \t]+)(.*?)\s*$/.exec(raw);
    if (!m) continue;
    let value = m[2]!;
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0]!)) value = value.slice(1, -1);
    const to = moved(m[1] as 'admindir' | 'root', value);
    if (to !== undefined) out.push({ code: 'dpkg-admindir', path, incomplete: true, message: `${path} sets dpkg's ${m[1]} to ${JSON.stringify(value.slice(0, 200))}: dpkg reads its database in ${to.slice(0, 200)}, pushgate reads ${ADMINDIR}; not judged` });
  }
  return out;
}

/** The `dpkg-admindir` diagnostics of an image config's environment (`KEY=value` strings). */
export function dpkgEnvDiagnostics(env: readonly unknown[] | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const e of env ?? []) {
    if (typeof e !== 'string') continue;
    const m = /^(DPKG_ADMINDIR|DPKG_ROOT)=(.*)$/s.exec(e);
    if (!m) continue;
    const to = moved(m[1] === 'DPKG_ADMINDIR' ? 'admindir' : 'root', m[2]!);
    if (to !== undefined) out.push({ code: 'dpkg-admindir', path: `config:Env.${m[1]}`, incomplete: true, message: `the image config sets ${m[1]}: dpkg and dpkg-query in the container read their database in ${to.slice(0, 200)}, pushgate reads ${ADMINDIR}; not judged` });
  }
  return out;
}

/** The analyzer. */
export const dpkgConfigAnalyzer: Analyzer = {
  name: 'os/dpkg-config',
  // 2: `.dpkg.cfg` in any folder ($HOME is the image's to set).
  version: 2,
  maxSize: 1024 * 1024,
  wants: (e) => OPTION_FILE.test(e.path),
  names: { under: ['/etc/dpkg/'], baseNames: ['.dpkg.cfg'] },
  analyze(input) {
    const diagnostics = dpkgOptionDiagnostics(input.content.toString('utf8'), input.path);
    return diagnostics.length ? { diagnostics } : undefined;
  },
};
