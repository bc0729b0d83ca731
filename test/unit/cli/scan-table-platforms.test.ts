/**
 * `pushgate scan --format table` of an index: the secrets and configuration checks of each platform
 * are listed per platform, so every row names its platform (as package rows do) and no two rows of
 * different platforms read the same; a single-platform report's rows carry no platform.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { renderTable } from '../../../src/cli/render.js';
import type { ScanReport } from '../../../src/core/index.js';

/** A report with only secrets and configuration checks, each on the given platforms. */
function report(platforms: Array<string | undefined>, secrets: Array<{ rule: string; path: string; line?: number }>, checks: string[]): ScanReport {
  return {
    target: 'oci:/lab/multiarch:1.0',
    digest: 'sha256:' + '0'.repeat(64),
    platforms: platforms.filter((p): p is string => p !== undefined),
    packages: [],
    findings: [],
    secrets: platforms.flatMap((platform) => secrets.map((s) => ({ ...s, redacted: '****', severity: 'high', ...(platform ? { platform } : {}) }))),
    config: platforms.flatMap((platform) => checks.map((check) => ({ check, severity: 'medium', message: `${check} message`, ...(platform ? { platform } : {}) }))),
    diagnostics: [],
    complete: true,
    verdict: { decision: 'allow', reasons: [], policy: { name: 'default', revision: 'r' }, complete: true },
  } as unknown as ScanReport;
}

/** The rows of a section of the table (indented lines after its heading, up to the next blank line). */
function section(table: string, heading: string): string[] {
  const lines = table.split('\n');
  const at = lines.indexOf(heading);
  if (at < 0) return [];
  const end = lines.findIndex((l, i) => i > at && l === '');
  return lines.slice(at + 1, end < 0 ? undefined : end);
}

describe('cli: pushgate scan --format table names the platform of secrets and config checks', () => {
  it('the multi-arch lab layout: the same secret and check on amd64 and arm64/v8 are two distinct rows', () => {
    const t = renderTable(report(['linux/amd64', 'linux/arm64/v8'], [{ rule: 'private-key', path: '/app/.ssh/id_rsa', line: 1 }], ['runs-as-root']));
    expect(section(t, 'SECRETS')).to.deep.equal([
      '  private-key              /app/.ssh/id_rsa:1  ****  [linux/amd64]',
      '  private-key              /app/.ssh/id_rsa:1  ****  [linux/arm64/v8]',
    ]);
    expect(section(t, 'CONFIG')).to.deep.equal([
      '  medium   runs-as-root         runs-as-root message  [linux/amd64]',
      '  medium   runs-as-root         runs-as-root message  [linux/arm64/v8]',
    ]);
  });

  it('property: rows of distinct platforms never read the same; without a platform no row has a platform tag', () => {
    const platform = fc.constantFrom('linux/amd64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/s390x', 'windows/amd64');
    const secret = fc.record({ rule: fc.constantFrom('private-key', 'aws-access-key-id', 'env-password'), path: fc.constantFrom('/app/.env', '/root/.ssh/id_rsa'), line: fc.option(fc.integer({ min: 1, max: 99 }), { nil: undefined }) });
    const check = fc.constantFrom('runs-as-root', 'no-healthcheck', 'layer-count');
    fc.assert(
      fc.property(fc.uniqueArray(platform, { minLength: 2, maxLength: 4 }), fc.uniqueArray(secret, { minLength: 1, maxLength: 3, selector: (s) => `${s.rule} ${s.path} ${s.line}` }), fc.uniqueArray(check, { minLength: 1, maxLength: 3 }), (ps, ss, cs) => {
        const multi = renderTable(report(ps, ss, cs));
        for (const name of ['SECRETS', 'CONFIG']) {
          const rows = section(multi, name);
          expect(rows).to.have.length(ps.length * (name === 'SECRETS' ? ss.length : cs.length));
          expect(new Set(rows).size, name).to.equal(rows.length);
          for (const row of rows) expect(ps.some((p) => row.endsWith(`  [${p}]`)), row).to.equal(true);
        }
        const single = renderTable(report([undefined], ss, cs));
        for (const row of [...section(single, 'SECRETS'), ...section(single, 'CONFIG')]) expect(row).not.to.match(/\]$/);
      }),
    );
  });
});
