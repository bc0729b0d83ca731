/**
 * `pushgate scan sbom:FILE` (as `trivy sbom` / `grype sbom:`): CycloneDX and SPDX JSON, judged by the
 * same matcher and policy as an image. Checked three ways, through the real CLI:
 * - the CycloneDX example of CycloneDX/bom-examples gives the findings that a root filesystem holding
 *   exactly its npm packages gives (`dir:` scan of generated node_modules);
 * - the SPDX 2.3 example of the SPDX specification is read (its one purl) and its purl-less packages
 *   are reported, not guessed;
 * - SBOMs written from the lab Debian image's packages (CycloneDX with an operating-system component,
 *   SPDX with `distro=` qualifiers; source packages from `upstream=`), and pushgate's own CycloneDX of
 *   the image, give the image's own findings.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Finding, Package, ScanReport } from '../../../src/core/index.js';
import { formatPurl } from '../../../src/scan/purl.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { oneLine, runCli, type CliRun } from '../../helpers/cli.js';
import { labImages, ROOT } from '../../helpers/lab.js';

const FIX = path.join(ROOT, 'test/fixtures/sbom');
const key = (f: Finding) => `${f.id} ${f.package} ${f.installedVersion} ${f.fixedVersions.join(',')}`;

describe('cli: pushgate scan sbom:FILE', function () {
  this.timeout(180_000);
  let dir: string;
  let config: string;

  const scan = (args: string[]): CliRun => runCli(['scan', ...args, '--config', config], { cwd: dir, timeoutMs: 60_000 });
  const report = (target: string, extra: string[] = []): ScanReport => {
    const r = scan([target, '--format', 'json', ...extra]);
    expect(r.status, r.stderr).to.be.oneOf([0, 1]);
    return JSON.parse(r.stdout) as ScanReport;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-sbom-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    config = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(config, `vulndb:\n  path: ${path.join(dir, 'vulndb.sqlite')}\n`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('CycloneDX (bom-examples): the npm purls give the findings a filesystem with those packages gives', () => {
    const bom = JSON.parse(fs.readFileSync(path.join(FIX, 'cyclonedx-juice-shop-11.1.2.bom.json'), 'utf8')) as { components: Array<{ purl: string; components?: unknown[] }> };
    const purls = new Set<string>();
    const walk = (cs: Array<{ purl?: string; components?: unknown[] }> | undefined) => { for (const c of cs ?? []) { if (c.purl) purls.add(c.purl); walk(c.components as typeof cs); } };
    walk(bom.components);
    // the same packages as installed artefacts: node_modules/<name>/package.json, one tree per purl
    const root = path.join(dir, 'rootfs-cdx');
    [...purls].forEach((p, i) => {
      const m = /^pkg:npm\/(.+)@([^?#]+)$/.exec(p)!;
      const name = decodeURIComponent(m[1]);
      const at = path.join(root, `p${i}`, 'node_modules', name);
      fs.mkdirSync(at, { recursive: true });
      fs.writeFileSync(path.join(at, 'package.json'), JSON.stringify({ name, version: m[2] }));
    });
    const fromDir = report(`dir:${root}`);
    const fromSbom = report(`sbom:${path.join(FIX, 'cyclonedx-juice-shop-11.1.2.bom.json')}`);
    expect(fromSbom.packages.map((p) => p.purl).sort()).to.deep.equal([...purls].sort());
    expect(fromSbom.packages.every((p) => p.analyzer === 'sbom/cyclonedx' && p.ecosystem === 'npm')).to.equal(true);
    expect(fromDir.findings.length, 'the example has vulnerable packages').to.be.greaterThan(0);
    expect([...new Set(fromSbom.findings.map(key))].sort()).to.deep.equal([...new Set(fromDir.findings.map(key))].sort());
    expect(fromSbom.verdict.decision).to.equal(fromDir.verdict.decision);
    expect(fromSbom.digest).to.match(/^sha256:[0-9a-f]{64}$/);
  });

  it('SPDX 2.3 (spdx-spec example): the PACKAGE-MANAGER purl is read; packages without one are named, not guessed', () => {
    const r = report(`sbom:${path.join(FIX, 'SPDXJSONExample-v2.3.spdx.json')}`);
    expect(r.packages.map((p) => [p.ecosystem, p.name, p.version, p.purl])).to.deep.equal([['Maven', 'org.apache.jena:apache-jena', '3.12.0', 'pkg:maven/org.apache.jena/apache-jena@3.12.0']]);
    const d = r.diagnostics.find((x) => x.code === 'sbom-no-purl');
    expect(d?.message).to.match(/^3 component\(s\) have no package URL.*glibc@2\.11\.1.*Apache Commons Lang.*Saxon@8\.8/);
    expect(r.complete).to.equal(true);
  });

  describe('SBOMs of the lab Debian image', () => {
    let image: ScanReport;
    before(() => {
      image = report(`oci:${labImages()}/debian-minbase:bookworm`);
    });

    /** A deb purl as syft writes it: distro and upstream qualifiers. */
    const debPurl = (p: Package, distro: boolean) => formatPurl({
      type: 'deb', namespace: 'debian', name: p.name, version: p.version,
      qualifiers: { arch: p.arch, ...(distro ? { distro: 'debian-12' } : {}), upstream: p.sourceName && p.sourceName !== p.name ? `${p.sourceName}@${p.sourceVersion ?? ''}`.replace(/@$/, '') : undefined },
    });

    it('CycloneDX with an operating-system component (no distro qualifiers), components nested: the image\'s findings', () => {
      const [first, ...rest] = image.packages;
      const bom = {
        bomFormat: 'CycloneDX', specVersion: '1.6', version: 1,
        metadata: { component: { type: 'container', name: 'debian-minbase' } },
        components: [
          { type: 'operating-system', name: 'debian', version: '12' },
          { type: 'library', name: first.name, version: first.version, purl: debPurl(first, false), components: rest.map((p) => ({ type: 'library', name: p.name, version: p.version, purl: debPurl(p, false) })) },
        ],
      };
      const file = path.join(dir, 'debian.cdx.json');
      fs.writeFileSync(file, JSON.stringify(bom));
      const r = report(`sbom:${file}`);
      expect(r.packages).to.have.length(image.packages.length);
      expect(image.findings.length).to.be.greaterThan(0);
      expect(r.findings.map(key).sort()).to.deep.equal(image.findings.map(key).sort());
      expect(r.verdict.decision).to.be.oneOf(['allow', 'warn']);
      expect(r.complete).to.equal(true);
    });

    it('pushgate\'s own --format cyclonedx of the image, scanned as sbom:, gives the image\'s findings (source packages kept)', () => {
      const cdx = scan([`oci:${labImages()}/debian-minbase:bookworm`, '--format', 'cyclonedx', '-q']);
      expect(cdx.status, cdx.stderr).to.be.oneOf([0, 1]);
      const file = path.join(dir, 'own.cdx.json');
      fs.writeFileSync(file, cdx.stdout);
      const r = report(`sbom:${file}`);
      expect(r.packages).to.have.length(image.packages.length);
      expect(image.findings.some((f) => image.packages.some((p) => p.name === f.package && p.sourceName && p.sourceName !== p.name)), 'some findings come through a source package').to.equal(true);
      expect(r.findings.map(key).sort()).to.deep.equal(image.findings.map(key).sort());
      expect(r.complete).to.equal(true);
    });

    it('SPDX with distro=debian-12 qualifiers: the image\'s findings; without any release, OS packages are not matched and the scan is incomplete', () => {
      const spdx = (distro: boolean) => ({
        spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'debian-minbase', dataLicense: 'CC0-1.0',
        packages: image.packages.map((p, i) => ({
          SPDXID: `SPDXRef-Package-${i}`, name: p.name, versionInfo: p.version, downloadLocation: 'NOASSERTION',
          externalRefs: [{ referenceCategory: i % 2 ? 'PACKAGE-MANAGER' : 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: debPurl(p, distro) }],
        })),
      });
      const file = path.join(dir, 'debian.spdx.json');
      fs.writeFileSync(file, JSON.stringify(spdx(true)));
      const r = report(`sbom:${file}`);
      expect(r.packages.every((p) => p.analyzer === 'sbom/spdx')).to.equal(true);
      expect(r.findings.map(key).sort()).to.deep.equal(image.findings.map(key).sort());
      fs.writeFileSync(file, JSON.stringify(spdx(false)));
      const bare = scan([`sbom:${file}`, '--format', 'json']);
      const b = JSON.parse(bare.stdout) as ScanReport;
      expect(b.findings).to.have.length(0);
      expect(b.complete).to.equal(false);
      expect(b.diagnostics.find((d) => d.code === 'sbom-no-distro')?.message).to.match(new RegExp(`^${image.packages.length} OS package\\(s\\) name no distribution release`));
      expect(bare.status, 'the default policy quarantines an incomplete scan').to.equal(1);
    });
  });

  it('bad input: not JSON, not an SBOM, no such file, --platform are one-line errors', () => {
    const notJson = path.join(dir, 'bom.xml');
    fs.writeFileSync(notJson, '<bom xmlns="http://cyclonedx.org/schema/bom/1.4"/>');
    expect(oneLine(scan([`sbom:${notJson}`]), 'xml')).to.match(/not JSON .*CycloneDX and SPDX are read in their JSON forms/);
    const other = path.join(dir, 'other.json');
    fs.writeFileSync(other, '{"hello": "world"}');
    expect(oneLine(scan([`sbom:${other}`]), 'not sbom')).to.match(/not a CycloneDX JSON BOM .* nor an SPDX 2\.x JSON document/);
    expect(oneLine(scan([`sbom:${path.join(dir, 'missing.json')}`]), 'missing')).to.match(/no such file/);
    expect(oneLine(scan([`sbom:${other}`, '--platform', 'linux/amd64']), 'platform')).to.match(/an sbom: target has no platform/);
  });

  it('a purl that cannot be read makes the scan incomplete and is named', () => {
    const file = path.join(dir, 'bad-purl.cdx.json');
    fs.writeFileSync(file, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [{ type: 'library', name: 'x', purl: 'pkg:npm/left-pad' }, { type: 'library', name: 'y', purl: 'not a purl' }] }));
    const r = JSON.parse(scan([`sbom:${file}`, '--format', 'json']).stdout) as ScanReport;
    expect(r.complete).to.equal(false);
    expect(r.diagnostics.find((d) => d.code === 'sbom-bad-purl')?.message).to.match(/^2 package URL\(s\).*pkg:npm\/left-pad \(no version\).*not a purl/);
  });

  it('components nested deeper than the depth limit are counted and make the scan incomplete, never dropped silently', () => {
    // 200 levels, each pkg:npm/adm-zip@0.4.7: levels 0..64 are read, the 135 below are not.
    const nest = (purlAt: (level: number) => string) => {
      let c: Record<string, unknown> | undefined;
      for (let level = 199; level >= 0; level--) c = { type: 'library', name: 'adm-zip', version: '0.4.7', purl: purlAt(level), ...(c ? { components: [c] } : {}) };
      return { bomFormat: 'CycloneDX', specVersion: '1.5', components: [c] };
    };
    const file = path.join(dir, 'deep.cdx.json');
    fs.writeFileSync(file, JSON.stringify(nest(() => 'pkg:npm/adm-zip@0.4.7')));
    const r = report(`sbom:${file}`);
    expect(r.complete).to.equal(false);
    const d = r.diagnostics.find((x) => x.code === 'sbom-too-deep');
    expect(d?.incomplete).to.equal(true);
    expect(d?.message).to.match(/^135 component\(s\) are nested more than 64 levels deep/);
    expect(r.findings.map((f) => f.id)).to.include('NSWG-NPM-458');
    // Only the deep ones vulnerable: nothing is found, and the policy's onIncomplete (the default
    // quarantines) decides instead of a clean pass.
    fs.writeFileSync(file, JSON.stringify(nest((level) => (level > 64 ? 'pkg:npm/adm-zip@0.4.7' : 'pkg:npm/pushgate-test-clean@1.0.0'))));
    const run = scan([`sbom:${file}`, '--format', 'json']);
    const q = JSON.parse(run.stdout) as ScanReport;
    expect(q.findings).to.have.length(0);
    expect(q.complete).to.equal(false);
    expect(q.diagnostics.find((x) => x.code === 'sbom-too-deep')?.message).to.match(/^135 component\(s\)/);
    expect(run.status, 'the default policy quarantines an incomplete scan').to.equal(1);
  });
});
