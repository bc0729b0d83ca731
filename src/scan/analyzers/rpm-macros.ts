/**
 * os/rpm-macros: where rpm reads its database. rpm (and dnf, yum, zypper through librpm) opens the
 * database at `%_dbpath`, a macro every macro file on rpm's macro path may set (rpmrc.c `macrofiles`:
 * `/usr/lib/rpm/macros`, `/usr/lib/rpm/macros.d/macros.*`, `/usr/lib/rpm/platform/<target>/macros`,
 * `/usr/lib/rpm/fileattrs/*.attr`, `/usr/lib/rpm/<vendor>/macros`, `/etc/rpm/macros.*`, `/etc/rpm/macros`,
 * `/etc/rpm/<target>/macros`, `~/.rpmmacros`). A RHEL image whose `/etc/rpm/macros.db` said
 * `%_dbpath /opt/rpmdb` with the database moved there was, to `rpm -qa` in the container, every package it
 * had; to the scan, which reads `/var/lib/rpm` and `/usr/lib/sysimage/rpm`, no package at all, complete.
 *
 * Every `%_dbpath` definition in those files is expanded with rpm's own directory macros
 * (`%{_var}` `/var`, `%{_usr}` `/usr`, …); one that names another directory, or that cannot be expanded
 * so (a shell `%(…)`, a macro pushgate does not know), makes the scan incomplete (`rpm-dbpath`), as does a
 * definition of one of those directory macros to another value (`%_var /opt`). Lines are read as rpm's
 * `loadMacroFile` reads them: a line ending in `\` goes on, a definition is a line whose first non-blank
 * character is `%`.
 */
import type { Analyzer, AnalyzerOutput } from './types.js';

/**
 * The macro files on rpm's macro path, as they sit in an image. `~/.rpmmacros` is under `$HOME`, which the
 * image config's `Env` or the user's /etc/passwd entry sets to any folder (`HOME=/srv` had the real rpm read
 * `/srv/.rpmmacros`), so a `.rpmmacros` anywhere counts. The image config's `RPM_CONFIGDIR`, which moves
 * `/usr/lib/rpm` itself, is checked by the engine ({@link rpmEnvDiagnostics}).
 */
const MACRO_FILE = /^(?:\/usr\/lib\/rpm\/(?:macros|macros\.d\/macros\.[^/]*|platform\/[^/]+\/macros|fileattrs\/[^/]+\.attr|[^/]+\/macros)|\/etc\/rpm\/(?:macros|macros\.[^/]*|[^/]+\/macros)|(?:\/[^/]+)*\/\.rpmmacros)$/;

/**
 * The `rpm-dbpath` diagnostics of an image config's environment (`KEY=value` strings): rpm reads its macro
 * files and rpmrc from `RPM_CONFIGDIR` instead of `/usr/lib/rpm` (rpmio/rpmfileutil.c `rpmConfigDir`), so a
 * `%_dbpath` in `$RPM_CONFIGDIR/macros` moved the database with no file pushgate reads saying so
 * (`RPM_CONFIGDIR=/opt/cfg rpm --eval %_dbpath` said `/opt/rpmdb`). Any other value is incomplete, the empty
 * one too (rpm then reads `/rpmrc` and `/macros`, not its default).
 */
export function rpmEnvDiagnostics(env: readonly unknown[] | undefined): NonNullable<AnalyzerOutput['diagnostics']> {
  const out: NonNullable<AnalyzerOutput['diagnostics']> = [];
  for (const e of env ?? []) {
    if (typeof e !== 'string') continue;
    const m = /^RPM_CONFIGDIR=(.*)$/s.exec(e);
    // An empty value is no default: rpm takes it as it is (`rpmConfigDir`: `getenv(…) ?: RPMCONFIGDIR`) and reads
    // `/rpmrc`, `/macros` and `/macros.d/` at the root, which pushgate does not read.
    if (!m || m[1]!.replace(/\/+/g, '/').replace(/(.)\/$/, '$1') === '/usr/lib/rpm') continue;
    out.push({ code: 'rpm-dbpath', path: 'config:Env.RPM_CONFIGDIR', incomplete: true, message: `the image config sets RPM_CONFIGDIR to ${JSON.stringify(m[1]!.slice(0, 200))}: rpm in the container reads its macros (and %_dbpath) there, pushgate reads /usr/lib/rpm and /etc/rpm; not judged` });
  }
  return out;
}

/**
 * Debian's `%_dbpath` (rpm-common's /usr/lib/rpm/macros, which `alien`, `rpmlint` and `python3-rpm` pull
 * into Debian and Ubuntu images): the invoking user's `~/.rpmdb` (`HOME=/h rpm --eval %_dbpath` says
 * `/h/.rpmdb`). Not a database pushgate reads, but one that is only there once something installed rpm
 * packages into it: an rpm database file in any `.rpmdb` folder is incomplete ({@link HOME_RPMDB}), and
 * without one this definition says nothing, so every such image is not incomplete for it.
 */
const DEBIAN_HOME_DBPATH = /^%\(bash -c '\s*echo ~\/\.rpmdb\s*'\)$/;

/** An rpm database file (bdb `Packages`, ndb `Packages.db`, sqlite `rpmdb.sqlite`) in a `.rpmdb` folder, anywhere ($HOME is the image's to set). */
const HOME_RPMDB = /(?:^|\/)\.rpmdb\/(?:Packages|Packages\.db|rpmdb\.sqlite)$/;

/** The directories pushgate reads an rpm database in. */
const READ_DIRS = new Set(['/var/lib/rpm', '/usr/lib/sysimage/rpm']);

/** rpm's directory macros a `%_dbpath` is written with, at the values rpm gives them (macros.in). */
const DIR_MACROS: Record<string, string> = { _var: '/var', _usr: '/usr', _prefix: '/usr', _exec_prefix: '/usr', _localstatedir: '/var' };

/** The definitions `%name body` of a macro file, continuation lines joined (rpmio/macro.c loadMacroFile). */
export function macroDefinitions(text: string): Array<{ name: string; body: string }> {
  const out: Array<{ name: string; body: string }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    while (/\\\r?$/.test(line) && i + 1 < lines.length) line = `${line.replace(/\\\r?$/, '\n')}${lines[++i]}`;
    const m = /^\s*%([A-Za-z_][A-Za-z0-9_]*)(?:\([^)]*\))?[ \t]+([\s\S]*)$/.exec(line);
    if (m) out.push({ name: m[1]!, body: m[2]!.trim() });
  }
  return out;
}

/** `body` with the directory macros expanded; undefined when anything else is left to expand. */
function expandDirs(body: string): string | undefined {
  let s = body;
  for (let round = 0; round < 4 && s.includes('%'); round++) {
    s = s.replace(/%\{([A-Za-z_][A-Za-z0-9_]*)\}|%([A-Za-z_][A-Za-z0-9_]*)/g, (all, a: string | undefined, b: string | undefined) => DIR_MACROS[(a ?? b)!] ?? all);
  }
  if (s.includes('%')) return undefined;
  return s.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
}

/** The `rpm-dbpath` diagnostics of one macro file at `path`. */
export function dbpathDiagnostics(text: string, path: string): AnalyzerOutput['diagnostics'] {
  const out: NonNullable<AnalyzerOutput['diagnostics']> = [];
  for (const d of macroDefinitions(text)) {
    if (d.name === '_dbpath') {
      if (DEBIAN_HOME_DBPATH.test(d.body)) continue;
      const dir = expandDirs(d.body);
      if (dir === undefined || !READ_DIRS.has(dir)) {
        out.push({ code: 'rpm-dbpath', path, incomplete: true, message: `rpm reads its package database from %_dbpath, which ${path} sets to ${JSON.stringify(d.body.slice(0, 200))}${dir === undefined ? ' (not expanded by pushgate)' : ''}; pushgate reads only ${[...READ_DIRS].join(' and ')}; not judged` });
      }
    } else if (d.name in DIR_MACROS && expandDirs(d.body) !== DIR_MACROS[d.name]) {
      out.push({ code: 'rpm-dbpath', path, incomplete: true, message: `${path} sets %${d.name} to ${JSON.stringify(d.body.slice(0, 200))}, which moves the rpm database rpm reads away from where pushgate reads it; not judged` });
    }
  }
  return out.length ? out : undefined;
}

/** The analyzer. */
export const rpmMacrosAnalyzer: Analyzer = {
  name: 'os/rpm-macros',
  // 2: `.rpmmacros` in any folder ($HOME is the image's to set). 3: Debian's `~/.rpmdb`: judged by an
  // rpm database being in a `.rpmdb` folder, not by the definition. 4: an empty RPM_CONFIGDIR (engine check)
  // is incomplete; bumped so scans keyed by the analyzer set are redone.
  version: 4,
  maxSize: 4 * 1024 * 1024,
  wants: (e) => MACRO_FILE.test(e.path) || HOME_RPMDB.test(e.path),
  names: { under: ['/usr/lib/rpm/', '/etc/rpm/'], baseNames: ['.rpmmacros', 'Packages', 'Packages.db', 'rpmdb.sqlite'] },
  analyze(input) {
    if (HOME_RPMDB.test(input.path)) {
      return { diagnostics: [{ code: 'rpm-dbpath', path: input.path, incomplete: true, message: `an rpm database in a .rpmdb folder (${input.path}), where Debian's rpm reads (%_dbpath ~/.rpmdb); pushgate reads only ${[...READ_DIRS].join(' and ')}; not judged` }] };
    }
    const diagnostics = dbpathDiagnostics(input.content.toString('utf8'), input.path);
    return diagnostics ? { diagnostics } : undefined;
  },
};
