/**
 * `pushgate scan TARGET`: the scan engine end to end from the command line (CI and local use).
 * TARGET: `oci:DIR[:TAG]`, `archive:FILE`, `dir:PATH`, `sbom:FILE` (CycloneDX or SPDX JSON), or a
 * registry reference `host[:port]/repo[:tag][@digest]`. Exit 0 allow/warn, 1 (or `--exit-code N`)
 * quarantine/reject, 2 unreadable target or bad arguments (DESIGN.md §3). The report-shaping flags
 * live in ../scan-options.ts; where the database, caches and credentials come from in
 * ../../config/cli-state.ts and ../scan-state-options.ts.
 */
import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isBlocking, parseImageRef, parseSeverity, PushgateError, SEVERITIES, type ScanReport, type Severity } from '../../core/index.js';
import { authFileLocations, resolveCliState } from '../../config/cli-state.js';
import type { ImageScan } from '../../scan/engine.js';
import { addScanStateOptions, oneOffCredentials, type ScanStateOptions } from '../scan-state-options.js';
import { DEFAULT_IGNORE_FILE } from '../ignore-file.js';
import { terminalText } from '../terminal-text.js';
import type { RawScanFlags, ScanSession } from '../scan-options.js';
import type { VexStatement } from '../../policy/vex.js';

const LOCAL = /^(oci|archive|dir):/;

/**
 * A target without a `oci:`/`archive:`/`dir:`/`sbom:` prefix is a registry reference
 * (`host[:port]/repo[:tag][@digest]`). When it does not parse as one but names a file or directory
 * here (`pushgate scan ./image`, a common first try), the error says which prefix reads it: a
 * directory holding an `oci-layout` file is an OCI layout (`oci:`), another directory a file tree
 * (`dir:`), a file an image archive (`archive:`) or an SBOM (`sbom:`). Nothing is guessed: the scan
 * still fails, since the same words could name a registry repository.
 * @throws PushgateError BAD_REFERENCE
 */
export function parseRegistryTarget(target: string): ReturnType<typeof parseImageRef> {
  // Before parsing: `docker-archive:img.tar` also parses as Docker Hub's `docker-archive` at tag `img.tar`;
  // read as the skopeo transport it almost surely is, it is refused with what to write (either meaning).
  const transport = transportHint(target);
  if (transport) throw new PushgateError('BAD_REFERENCE', `${JSON.stringify(target)} names a skopeo/podman transport or a Grype/Syft source, not a registry reference; ${transport}`);
  try {
    return parseImageRef(target, { defaultTag: 'latest' });
  } catch (e) {
    const hint = localPathHint(target) ?? schemeHint(target);
    if (!hint) throw e;
    throw new PushgateError('BAD_REFERENCE', `${(e as Error).message}; ${hint}`, { cause: e });
  }
}

/**
 * What to write for a Grype/Syft source scheme that is also a Docker Hub image name (`registry:2` and
 * `docker:24-dind` are images there), asked only once the target failed to parse as a reference:
 * `registry:REF` is REF itself, `docker:REF` the Docker daemon's image, which pushgate cannot read.
 */
function schemeHint(target: string): string | undefined {
  const m = /^(registry|docker):(.+)$/s.exec(target);
  if (!m) return undefined;
  const [, scheme, rest] = m;
  return scheme === 'registry'
    ? `a registry reference needs no registry: prefix: write ${rest}`
    : `docker:REF names the Docker daemon's image (as in Grype and Syft), which pushgate cannot read: scan the registry reference ${rest}, or save the image (docker save -o image.tar ${rest}) and scan archive:image.tar`;
}

/**
 * What to write to scan `target` as the local file or directory it names here (`x is a file here: to
 * scan it, write archive:x …`), or undefined when nothing is there. A directory holding an
 * `oci-layout` file is an OCI layout (`oci:`), another directory a file tree (`dir:`), a file an image
 * archive (`archive:`) or an SBOM (`sbom:`).
 */
export function localPathHint(target: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    return undefined;
  }
  const hint = st.isDirectory()
    ? fs.existsSync(`${target}/oci-layout`)
      ? `oci:${target} (an OCI image layout)`
      : `dir:${target} (a file tree; oci:${target} for an OCI image layout)`
    : `archive:${target} (a docker save or OCI archive) or sbom:${target} (CycloneDX or SPDX JSON)`;
  return `${target} is a ${st.isDirectory() ? 'directory' : 'file'} here: to scan it, write ${hint}`;
}

/**
 * A registry target's failure as the user can act on it: when the target also names a file or
 * directory here (`pushgate scan image.tar`, read as Docker Hub's `library/image.tar:latest`), the
 * error says which prefix reads the local one ({@link localPathHint}); other errors are returned as
 * they are. The registry was asked first: the same words may name a repository, so nothing is guessed.
 */
export function withLocalPathHint(e: unknown, target: string): unknown {
  const hint = e instanceof PushgateError ? localPathHint(target) : undefined;
  if (!hint || !(e instanceof PushgateError)) return e;
  return new PushgateError(e.code, `${e.message}; ${hint}`, { cause: e, retryable: e.retryable, details: e.details });
}

/**
 * What to write instead of a skopeo/podman transport name (containers-transports(5)) or a Grype/Syft
 * source scheme, which users of those tools type first: `docker://REF` is a registry reference without
 * the prefix, `docker-archive:` and `oci-archive:` files are `archive:`, Grype's `oci-dir:` is `oci:` and
 * its `file:` is `archive:` or `sbom:`; the daemon's, podman's, containers-storage's, ostree's, SIF and
 * Singularity images must be saved to an archive first (every transport of containers-transports(5) but
 * `oci:` and `dir:`, which pushgate reads under the same names). Undefined when `target` starts with none of them.
 */
export function transportHint(target: string): string | undefined {
  // `docker:` alone is Docker Hub's own `docker` image (`docker:24-dind`): only `docker://` is the transport.
  // Grype's and Syft's source schemes too: oci-dir:, file:, podman:, singularity: (registry: and docker: are
  // Hub images as well, and are only explained once the target fails to parse: schemeHint).
  const m = /^(docker(?=:\/\/)|docker-archive|oci-archive|oci-dir|file|docker-daemon|containers-storage|podman|ostree|sif|singularity):(.*)$/s.exec(target);
  if (!m) return undefined;
  const [, transport, rest] = m;
  // the archive transports may name an image inside after a second colon (path:ref); the path is what pushgate reads
  const file = rest.replace(/^\/\//, '').split(':')[0];
  // a Docker Hub repository of that name stays reachable when named in full
  const hub = `(a Docker Hub image of that name: docker.io/library/${transport}:TAG)`;
  switch (transport) {
    case 'docker':
      return `pushgate reads a registry reference without a transport: write ${rest.replace(/^\/\//, '')}`;
    case 'docker-archive':
    case 'oci-archive':
      return `write archive:${file} (a docker save or OCI archive) ${hub}`;
    case 'oci-dir':
      return `write oci:${file} (an OCI image layout) ${hub}`;
    case 'file':
      return `write archive:${file} (a docker save or OCI archive) or sbom:${file} (CycloneDX or SPDX JSON) ${hub}`;
    default:
      return `pushgate reads no ${transport} images: save the image to a file first (docker save / podman save -o image.tar IMAGE) and scan archive:image.tar ${hub}`;
  }
}

/** The output formats of `scan` (`table` is the terminal rendering; the others are REPORT_FORMATS). */
export const SCAN_FORMATS = ['table', 'json', 'sarif', 'cyclonedx'] as const;

/** Trivy's and Grype's names of formats pushgate writes under another name. */
const FORMAT_ALIASES: Readonly<Record<string, (typeof SCAN_FORMATS)[number]>> = { 'cyclonedx-json': 'cyclonedx' };

/**
 * `--format`'s value as a format of {@link SCAN_FORMATS}: the name itself, or Trivy's spelling of one
 * (`cyclonedx-json`). Case-sensitive, as commander's choices were.
 * @throws InvalidArgumentError (commander's: exit 2 with one line) for any other value, naming the
 *   formats; an SPDX name says that pushgate writes no SPDX and which SBOM it writes instead.
 */
export function parseScanFormat(value: string): ScanCliOptions['format'] {
  if ((SCAN_FORMATS as readonly string[]).includes(value)) return value as ScanCliOptions['format'];
  const alias = Object.hasOwn(FORMAT_ALIASES, value) ? FORMAT_ALIASES[value] : undefined;
  if (alias) return alias;
  if (/^spdx(-json|-tv)?$/.test(value)) throw new InvalidArgumentError(`There is no SPDX output: pushgate writes its SBOM as CycloneDX, --format cyclonedx (Trivy's cyclonedx-json)`);
  throw new InvalidArgumentError(`Allowed choices are ${SCAN_FORMATS.join(', ')} (or Trivy's cyclonedx-json)`);
}

/** Options of `scan`. */
export interface ScanCliOptions extends ScanStateOptions, RawScanFlags {
  config?: string;
  format: 'table' | 'json' | 'sarif' | 'cyclonedx';
  severityThreshold?: string;
  platform?: string;
  /** `--vex FILE` (repeatable): OpenVEX, CycloneDX VEX or CSAF VEX documents applied to the judgement. */
  vex?: string[];
  /** `--insecure`: the scanned reference's registry without TLS verification, over plain HTTP when it has no TLS (registry-client.ts insecureFallback). */
  insecure?: boolean;
}

/**
 * Runs a scan and returns the judged report (no printing). `session` carries the report-shaping
 * flags (scan-options.ts); without one, `opts`' flags apply with no progress drawn.
 */
export async function runScan(target: string, opts: ScanCliOptions, session?: ScanSession): Promise<ScanReport> {
  // Loaded here, not at the top: `scan --help` and a bad argument need none of it. The matcher and
  // the database's modules (SQLite's binding among them) are needed only once the image is read:
  // their loading starts once the first layer bytes arrive (or when they are needed, whichever is
  // first), so it runs while the layers inflate on another thread instead of before the first byte
  // is read. (In the bundled command line an import() evaluates its modules at once.)
  // So are the base-image modules an image target uses after its layers (their evaluation was a few
  // ms between the last layer byte and the report, on a thread the inflating leaves idle before).
  let later: Promise<readonly [typeof import('../../gate/judge.js'), typeof import('../vulndb-state.js')]> | undefined;
  const loadLater = () => {
    if (!later) {
      const image = !/^(sbom|dir):/.test(target);
      later = Promise.all([
        import('../../gate/judge.js'), import('../vulndb-state.js'), import('../../core/sqlite-addon.js').then((m) => m.preloadSqliteAddon()),
        image ? import('../base-images.js') : undefined, image ? import('../layer-cache.js') : undefined,
      ])
        .then(([judge, state]) => [judge, state] as const);
      later.catch(() => undefined); // awaited below; a scan that fails first must not leave it unhandled
    }
    return later;
  };
  const [{ defaultPolicy, loadPolicy, loadVexFiles, parseVex, withSeverityThreshold }, { scanImage }, options, { createProgress }] = await Promise.all([
    import('../../policy/index.js'), import('../../scan/engine.js'), import('../scan-options.js'), import('../progress.js'),
  ]);
  session ??= new options.ScanSession(options.resolveScanFlags(opts, target), createProgress({ quiet: true }));
  session.whenReading(loadLater);
  // --config > $PUSHGATE_CONFIG > built-in; database and caches in the user's cache (src/config/cli-state.ts)
  const state = resolveCliState({ config: opts.config, db: opts.db, cacheDir: opts.cacheDir });
  const config = state.config;
  let policy = config.policy ? loadPolicy(config.policy) : defaultPolicy();
  // --vex documents join the configuration's vex.paths: their not_affected/fixed statements suppress
  // findings for the decision and stay in the report marked as suppressed (Trivy's and Grype's --vex).
  const vex = [...(config.vex?.paths.length ? loadVexFiles(config.vex.paths) : []), ...readVexFlags(opts.vex ?? [], parseVex)];
  if (vex.length) policy = { ...policy, vex };
  const threshold = session.flags.severityThreshold;
  if (threshold) {
    const level = threshold.toLowerCase();
    if (!(SEVERITIES as readonly string[]).includes(level)) {
      throw new PushgateError('BAD_ARGUMENT', `--severity-threshold "${threshold}": use one of ${SEVERITIES.join(', ')}`);
    }
    policy = withSeverityThreshold(policy, parseSeverity(level) as Severity);
  }
  if (opts.platform && !/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(opts.platform)) {
    throw new PushgateError('BAD_ARGUMENT', `--platform "${opts.platform}": expected OS/ARCH[/VARIANT], e.g. linux/amd64`);
  }
  if (opts.insecure && (LOCAL.test(target) || target.startsWith('sbom:'))) {
    throw new PushgateError('BAD_ARGUMENT', `--insecure: ${target.split(':')[0]}: targets are read from files, not from a registry; drop --insecure`);
  }
  if (opts.platform && /^(dir|sbom):/.test(target)) {
    const what = target.startsWith('dir:') ? 'a dir: root filesystem' : 'an sbom: target';
    throw new PushgateError('BAD_ARGUMENT', `--platform ${opts.platform}: ${what} has no platform; drop --platform`);
  }
  const oneOff = await oneOffCredentials(target, opts);
  // The same deadline and limits as the server's scans: a CI run and the gate judge alike.
  const scanLimits = { tmpDir: state.tmpDir, tmpDirLimitBytes: config.scan.tmpDirLimitBytes, deadlineMs: config.scan.deadlineMs, limits: config.scan.limits };
  let scan: ImageScan;
  let ctx: { registry?: string; repository?: string; tag?: string } = {};
  // A registry target's client and repository: its index's provenance attestations are read from there.
  let origin: { client: import('../../registry/client.js').RegistryClient; repository: string } | undefined;
  if (target.startsWith('sbom:')) {
    scan = (await import('../../scan/sbom-input.js')).scanSbom(target);
  } else if (LOCAL.test(target)) {
    scan = await options.scanLocalTarget(target, { platform: opts.platform, ...scanLimits }, session);
  } else {
    const ref = parseRegistryTarget(target);
    const [{ clientForHost, insecureFallback, isConfiguredHost, withLoginHint, withTlsHint }, { registrySource }, { fileLayerCache }] = await Promise.all([
      import('../registry-client.js'), import('../../gate/registry-source.js'), import('../layer-cache.js'),
    ]);
    const warn = (line: string) => process.stderr.write(`${line}\n`);
    let client = clientForHost(config, ref.registry, { repository: ref.repository, authFiles: authFileLocations(), oneOff, warn, insecure: opts.insecure });
    // --insecure, for this reference's registry only: no TLS verification, and plain HTTP when it has no TLS.
    if (opts.insecure) client = await insecureFallback(config, ref.registry, client, { warn });
    // Layers analysed before are reused from the cache directory (layer-cache.ts); only for registry
    // targets, whose blobs the registry verified: a local layout's files can change under their digest.
    session.keepLayersIn(fileLayerCache(state.layerCacheDir));
    scan = await scanImage(session.wrap(registrySource(client, ref.repository, ref.digest ?? ref.tag!)), { platform: opts.platform, ...scanLimits, layerCache: session.layerCache })
      .catch((e: unknown) => {
        const configured = isConfiguredHost(config, ref.registry);
        throw withLocalPathHint(withTlsHint(withLoginHint(e, ref.registry, oneOff?.username, configured), ref.registry, configured), target);
      });
    scan.target = target;
    origin = { client, repository: ref.repository };
    ctx = { registry: client.name, repository: ref.repository, tag: ref.tag };
  }
  const [{ judgeScan }, { openCliVulnDb, updateCommand }] = await loadLater();
  // Opened after the target was read: a target that cannot be read costs no download.
  let unreadable: string | undefined;
  const vulndb = await openCliVulnDb(state, { offline: opts.offline, stderr: process.stderr, quiet: session.flags.quiet, onUnreadable: (why) => (unreadable = why) });
  try {
    await session.prepare(scan, config.scan.limits);
    // The base of each platform (src/base): from the configured catalog repositories when there are
    // some, else from the image history; every package and finding then says base or app.
    let bases: Awaited<ReturnType<typeof import('../base-images.js').cliBases>> | undefined;
    if (!/^(sbom|dir):/.test(target)) {
      // A registry client only where one is used (a catalog, or a registry target's attestations): a
      // local target without a catalog loads no HTTP or TLS module.
      const catalog = config.baseImages.repositories.length > 0;
      const [{ cliBases, registryAttestations }, registryClient, { fileLayerCache }] = await Promise.all([
        import('../base-images.js'), catalog || origin ? import('../registry-client.js') : undefined, import('../layer-cache.js'),
      ]);
      const warn = (line: string) => process.stderr.write(`${terminalText(line)}\n`);
      bases = await cliBases(scan, {
        config,
        vulndb,
        warn,
        layerCache: catalog ? fileLayerCache(state.layerCacheDir) : undefined,
        ...(origin && scan.digest ? { attestations: registryAttestations(origin.client, origin.repository, scan.digest) } : {}),
        client: (name) => {
          const rc = config.registries.find((r) => r.name === name);
          if (!rc) throw new PushgateError('BAD_CONFIG', `baseImages.repositories names registry "${name}", which is not configured`);
          // cliBases asks for a client only for a catalog repository or a base the catalog found.
          if (!registryClient) throw new PushgateError('INTERNAL', `registry ${name}: no registry client without baseImages.repositories`);
          return registryClient.clientForHost(config, new URL(rc.url).host, { authFiles: authFileLocations(), warn });
        },
      });
    }
    // With --exclude-base --file, the Dockerfile alone says where the base ends and the image history is
    // not used (the exclude-base note says so): a base found by history alone is then neither shown nor
    // used to split the findings into base and own, which would contradict what was excluded.
    if (session.flags.excludeBase && session.flags.dockerfile) for (const [p, b] of bases ?? []) if (b.base.method === 'history') bases!.delete(p);
    for (const [p, b] of bases ?? []) if (['annotation', 'provenance', 'chain'].includes(b.base.method)) (session.notes.byOrigin ??= new Set()).add(p.platform);
    const report = judgeScan(scan, vulndb, policy, ctx, { filterFindings: session.filter, trustAuthorBase: true, vulndbUpdate: updateCommand(state), ...(unreadable ? { vulndbMissing: unreadable } : {}), ...(bases ? { bases } : {}) }).report;
    // --file: say where the Dockerfile's base and the base the layers show disagree.
    report.diagnostics.push(...options.dockerfileBaseDiagnostics(session.flags, report.bases, (name) => {
      const rc = config.registries.find((r) => r.name === name);
      return rc ? new URL(rc.url).host : undefined;
    }));
    return session.finish(report);
  } finally {
    vulndb?.close();
  }
}

/**
 * Reads the `--vex` documents, in the order given.
 * @throws PushgateError BAD_ARGUMENT naming the flag, the file and what is wrong in it.
 */
export function readVexFlags(files: readonly string[], parse: (text: string, source: string) => VexStatement[]): VexStatement[] {
  const out: VexStatement[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      throw new PushgateError('BAD_ARGUMENT', `--vex ${f}: cannot read it: ${(e as Error).message}`, { cause: e });
    }
    try {
      out.push(...parse(text, f));
    } catch (e) {
      throw new PushgateError('BAD_ARGUMENT', `--vex ${(e as Error).message}; fix the document or drop the flag`, { cause: e });
    }
  }
  return out;
}

/** Registers `scan`. */
export function register(program: Command): void {
  const cmd = program
    .command('scan')
    .description('scan an image (or an SBOM) and print its report; exit 0 allow/warn, 1 (--exit-code) quarantine/reject, 2 error')
    .argument('<target>', 'oci:DIR[:TAG] | archive:FILE | dir:PATH | sbom:FILE (CycloneDX/SPDX JSON) | host[:port]/repo[:tag][@digest]')
    .option('--config <file>', 'configuration file (default: $PUSHGATE_CONFIG, else the built-in config and policy)')
    .addOption(new Option('--format <format>', `output format: ${SCAN_FORMATS.join(', ')}; Trivy's cyclonedx-json is cyclonedx (there is no SPDX output: spdx and spdx-json are refused)`).argParser(parseScanFormat).default('table'))
    .option('--severity-threshold <level>', 'fail on any finding at or above LEVEL (replaces the vulnerability rules)')
    .option('--severity <level>', 'the same as --severity-threshold (docker scan\'s name)')
    .option('--platform <os/arch>', 'scan one platform of an index')
    .option('--insecure', 'for the registry of the scanned reference only (not token services, base catalogs or other registries): do not verify its TLS certificate, and read it over plain HTTP when it has no TLS (then without credentials unless it is loopback; name it with an http:// url in --config to send them)')
    .option('--vex <file>', 'OpenVEX, CycloneDX VEX or CSAF VEX document (repeatable): not_affected/fixed statements suppress findings, shown as suppressed', (v: string, prev: string[] = []) => [...prev, v])
    .option('--ignore-unfixed', 'leave out findings that have no fixed version')
    .option('--ignore-file <file>', `ignore file: YAML (default: ${DEFAULT_IGNORE_FILE} in the working directory, when present), or Trivy's plain-text .trivyignore (one id a line, # comments, exp:YYYY-MM-DD), read only when named here`)
    .option('--no-ignore-file', 'read no ignore file, not even the default one')
    .option('--exclude-base', 'leave out findings from the base image (attributed by annotations, --file, or the image history)')
    .option('--file <Dockerfile>', 'the Dockerfile the image was built from: its base is checked against the detected one (a warning when they differ, flags for latest or untagged bases); with --exclude-base its final stage marks where the base ends')
    .option('--build-arg <NAME=value>', 'with --file: a build argument the image was built with (repeatable), for the Dockerfile\'s ARGs before FROM', (v: string, prev: string[] = []) => [...prev, v])
    .option('--target <stage>', 'with --file: the stage the image was built from (docker build --target; default the last)')
    .option('--exit-code <n>', 'exit status when the decision is quarantine or reject (default 1; 0 or 3-255, 2 means error)')
    .option('--group-issues', 'one entry per vulnerability, listing every package and path it affects (table, json)')
    .option('--dependency-tree', 'print the packages by layer and file before the findings (table, json)')
    .option('-q, --quiet', 'no progress bar: only the report (warnings and errors still go to stderr)')
    .option('-o, --output <file>', 'write the report to FILE (atomically) instead of stdout');
  addScanStateOptions(cmd)
    .action(async (target: string, opts: ScanCliOptions) => {
      const [{ expiredWarnings, resolveScanFlags, ScanSession, writeFileAtomic }, { createProgress }] = await Promise.all([import('../scan-options.js'), import('../progress.js')]);
      const flags = resolveScanFlags(opts, target);
      for (const w of expiredWarnings(flags)) process.stderr.write(`${terminalText(w)}\n`);
      const session = new ScanSession(flags, createProgress({ quiet: flags.quiet }));
      const report = await runScan(target, opts, session);
      const body = session.render(report, opts.format);
      if (flags.output) writeFileAtomic(flags.output, body);
      else process.stdout.write(body);
      process.exitCode = isBlocking(report.verdict.decision) ? flags.exitCode : 0;
    });
}
