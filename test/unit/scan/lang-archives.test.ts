/**
 * Java archives (real Debian jar, WAR and EAR with nested jars), RubyGems (real Debian gemspec),
 * Cargo.lock, Composer installed.json v1/v2 and .NET deps.json, all read from a real layer.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Package } from '../../../src/core/index.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

const J = path.resolve('test/fixtures/scan/java');
const L = path.resolve('test/fixtures/scan/lang');

describe('scan: Java archives and other language manifests', function () {
  this.timeout(60_000);
  let tmp: string;
  let pk: Package[];
  let diags: Array<{ code: string; incomplete?: boolean; path?: string }>;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-lang-'));
    const t = await makeTar([
      { name: 'usr/share/java/commons-lang3.jar', content: fs.readFileSync(path.join(J, 'commons-lang3.jar')) },
      { name: 'usr/share/java/commons-lang3-3.12.0.jar', type: 'symlink', linkname: 'commons-lang3.jar' },
      { name: 'srv/app.war', content: fs.readFileSync(path.join(J, 'app.war')) },
      { name: 'srv/app.ear', content: fs.readFileSync(path.join(J, 'app.ear')) },
      { name: 'srv/broken.jar', content: 'not a zip at all, but long enough to try' },
      { name: 'usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec', content: fs.readFileSync(path.join(L, 'rack-2.2.22.gemspec')) },
      { name: 'src/app/Cargo.lock', content: fs.readFileSync(path.join(L, 'Cargo.lock')) },
      { name: 'var/www/a/vendor/composer/installed.json', content: fs.readFileSync(path.join(L, 'installed-v1.json')) },
      { name: 'var/www/b/vendor/composer/installed.json', content: fs.readFileSync(path.join(L, 'installed-v2.json')) },
      { name: 'app/app.deps.json', content: fs.readFileSync(path.join(L, 'app.deps.json')) },
    ]);
    const dir = path.join(tmp, 'layout');
    writeLayout(dir, [gzLayer(t)]);
    const s = await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') });
    pk = s.platforms[0].inventory.packages;
    diags = s.platforms[0].inventory.diagnostics;
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const at = (p: string) => pk.filter((x) => x.path === p).map((x) => `${x.ecosystem} ${x.name}@${x.version} ${x.purl}`).sort();

  it('a Debian jar: pom.properties gives Maven coordinates; the symlink is not read twice', () => {
    expect(at('/usr/share/java/commons-lang3.jar')).to.deep.equal(['Maven org.apache.commons:commons-lang3@3.12.0 pkg:maven/org.apache.commons/commons-lang3@3.12.0']);
    expect(at('/usr/share/java/commons-lang3-3.12.0.jar')).to.deep.equal([]);
  });

  it('a WAR: nested jars, one by pom.properties, one by MANIFEST.MF and file name', () => {
    expect(at('/srv/app.war!/WEB-INF/lib/commons-lang3.jar')).to.deep.equal(['Maven org.apache.commons:commons-lang3@3.12.0 pkg:maven/org.apache.commons/commons-lang3@3.12.0']);
    expect(at('/srv/app.war!/WEB-INF/lib/netty-common-4.1.48.Final.jar')).to.deep.equal(['Maven io.netty:netty-common@4.1.48.Final pkg:maven/io.netty/netty-common@4.1.48.Final']);
    expect(at('/srv/app.war')).to.deep.equal([]);
  });

  it('an EAR: a jar inside a war inside the ear', () => {
    expect(at('/srv/app.ear!/inner.war!/WEB-INF/lib/tiny-1.0.4.jar')).to.deep.equal(['Maven com.example:tiny@1.0.4 pkg:maven/com.example/tiny@1.0.4']);
  });

  it('a file named .jar that is not a zip is a parse-error diagnostic, not a crash', () => {
    expect(diags.some((d) => d.code === 'parse-error')).to.equal(true);
  });

  it('gemspec, Cargo.lock, composer v1 and v2, deps.json', () => {
    expect(at('/usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec')).to.deep.equal(['RubyGems rack@2.2.22 pkg:gem/rack@2.2.22']);
    expect(at('/src/app/Cargo.lock')).to.deep.equal([
      'crates.io app@0.1.0 pkg:cargo/app@0.1.0', 'crates.io serde@1.0.193 pkg:cargo/serde@1.0.193', 'crates.io smallvec@0.6.14 pkg:cargo/smallvec@0.6.14',
    ]);
    expect(at('/var/www/a/vendor/composer/installed.json')).to.deep.equal([
      'Packagist guzzlehttp/guzzle@7.4.4 pkg:composer/guzzlehttp/guzzle@7.4.4', 'Packagist symfony/http-foundation@v5.4.1 pkg:composer/symfony/http-foundation@v5.4.1',
    ]);
    expect(at('/var/www/b/vendor/composer/installed.json')).to.deep.equal([
      'Packagist monolog/monolog@2.3.5 pkg:composer/monolog/monolog@2.3.5', 'Packagist phpunit/phpunit@9.5.10 pkg:composer/phpunit/phpunit@9.5.10',
    ]);
    expect(at('/app/app.deps.json')).to.deep.equal([
      'NuGet Newtonsoft.Json@13.0.1 pkg:nuget/Newtonsoft.Json@13.0.1', 'NuGet System.Text.Encodings.Web@4.7.1 pkg:nuget/System.Text.Encodings.Web@4.7.1',
    ]);
  });

  it('no temp files are left; only the unreadable jar makes the scan incomplete', () => {
    expect(fs.readdirSync(path.join(tmp, 'scratch'))).to.deep.equal([]);
    // A jar that cannot be opened may hold any library: it is a gap, not "no packages".
    expect(diags.filter((d) => d.incomplete).map((d) => `${d.code} ${d.path}`)).to.deep.equal(['parse-error /srv/broken.jar']);
  });
});
