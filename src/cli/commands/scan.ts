/**
 * `pushgate scan TARGET`: the scan engine end to end from the command line (CI and local use).
 * TARGET: `oci:DIR[:TAG]`, `archive:FILE`, `dir:PATH`, or a registry reference
 * `host[:port]/repo[:tag][@digest]`. Exit 0 allow/warn, 1 quarantine/reject, 2 unreadable target
 * or bad arguments (DESIGN.md §3).
 */
import { Command, Option } from 'commander';
import { isBlocking, parseImageRef, parseSeverity, PushgateError, SEVERITIES, type ScanReport, type Severity } from '../../core/index.js';
import { authFileLocations, resolveCliState } from '../../config/cli-state.js';
import { judgeScan } from '../../gate/judge.js';
import { formatReport } from '../../gate/report-formats.js';
import { registrySource } from '../../gate/registry-source.js';
import { defaultPolicy, loadPolicy, withSeverityThreshold } from '../../policy/index.js';
import { scanImage, scanTarget, type ImageScan } from '../../scan/engine.js';
import { renderTable } from '../render.js';
import { clientForHost, withLoginHint } from '../registry-client.js';
import { fileLayerCache } from '../layer-cache.js';
import { addScanStateOptions, oneOffCredentials, type ScanStateOptions } from '../scan-state-options.js';
import { openCliVulnDb } from '../vulndb-state.js';
import { VERSION } from '../../core/version.js';

const LOCAL = /^(oci|archive|dir):/;

/** Options of `scan`. */
export interface ScanCliOptions extends ScanStateOptions {
  config?: string;
  format: 'table' | 'json' | 'sarif' | 'cyclonedx';
  severityThreshold?: string;
  platform?: string;
}

/** Runs a scan and returns the judged report (no printing). */
export async function runScan(target: string, opts: ScanCliOptions): Promise<ScanReport> {
  // --config > $PUSHGATE_CONFIG > built-in; database and caches in the user's cache (src/config/cli-state.ts)
  const state = resolveCliState({ config: opts.config, db: opts.db, cacheDir: opts.cacheDir });
  const config = state.config;
  let policy = config.policy ? loadPolicy(config.policy) : defaultPolicy();
  if (opts.severityThreshold) {
    const level = opts.severityThreshold.toLowerCase();
    if (!(SEVERITIES as readonly string[]).includes(level)) {
      throw new PushgateError('BAD_ARGUMENT', `--severity-threshold "${opts.severityThreshold}": use one of ${SEVERITIES.join(', ')}`);
    }
    policy = withSeverityThreshold(policy, parseSeverity(level) as Severity);
  }
  if (opts.platform && !/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(opts.platform)) {
    throw new PushgateError('BAD_ARGUMENT', `--platform "${opts.platform}": expected OS/ARCH[/VARIANT], e.g. linux/amd64`);
  }
  if (opts.platform && target.startsWith('dir:')) {
    throw new PushgateError('BAD_ARGUMENT', `--platform ${opts.platform}: a dir: root filesystem has no platform; drop --platform`);
  }
  const oneOff = await oneOffCredentials(target, opts);
  // The same deadline and limits as the server's scans: a CI run and the gate judge alike.
  const scanLimits = { tmpDir: state.tmpDir, tmpDirLimitBytes: config.scan.tmpDirLimitBytes, deadlineMs: config.scan.deadlineMs, limits: config.scan.limits };
  let scan: ImageScan;
  let ctx: { registry?: string; repository?: string; tag?: string } = {};
  if (LOCAL.test(target)) {
    scan = await scanTarget(target, { platform: opts.platform, ...scanLimits });
  } else {
    const ref = parseImageRef(target, { defaultTag: 'latest' });
    const client = clientForHost(config, ref.registry, { repository: ref.repository, authFiles: authFileLocations(), oneOff, warn: (line) => process.stderr.write(`${line}\n`) });
    // Layers analysed before are reused from the cache directory (layer-cache.ts); only for registry
    // targets, whose blobs the registry verified: a local layout's files can change under their digest.
    scan = await scanImage(registrySource(client, ref.repository, ref.digest ?? ref.tag!), { platform: opts.platform, ...scanLimits, layerCache: fileLayerCache(state.layerCacheDir) })
      .catch((e: unknown) => { throw withLoginHint(e, ref.registry); });
    scan.target = target;
    ctx = { registry: client.name, repository: ref.repository, tag: ref.tag };
  }
  // Opened after the target was read: a target that cannot be read costs no download.
  const vulndb = await openCliVulnDb(state, { offline: opts.offline, stderr: process.stderr });
  try {
    return judgeScan(scan, vulndb, policy, ctx).report;
  } finally {
    vulndb?.close();
  }
}

/** Registers `scan`. */
export function register(program: Command): void {
  const cmd = program
    .command('scan')
    .description('scan an image and print its report; exit 0 allow/warn, 1 quarantine/reject, 2 error')
    .argument('<target>', 'oci:DIR[:TAG] | archive:FILE | dir:PATH | host[:port]/repo[:tag][@digest]')
    .option('--config <file>', 'configuration file (default: $PUSHGATE_CONFIG, else the built-in config and policy)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'sarif', 'cyclonedx']).default('table'))
    .option('--severity-threshold <level>', 'fail on any finding at or above LEVEL (replaces the vulnerability rules)')
    .option('--platform <os/arch>', 'scan one platform of an index');
  addScanStateOptions(cmd)
    .action(async (target: string, opts: ScanCliOptions) => {
      const report = await runScan(target, opts);
      process.stdout.write(opts.format === 'table' ? renderTable(report) : formatReport(report, opts.format, VERSION).body);
      process.exitCode = isBlocking(report.verdict.decision) ? 1 : 0;
    });
}
