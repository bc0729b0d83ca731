/**
 * Spring Boot's executable jar and war put every file under `BOOT-INF/lib/` (a war: `WEB-INF/lib/`,
 * `WEB-INF/lib-provided/`) on the class path, whatever its name (spring-boot-loader's JarLauncher and
 * WarLauncher `isNestedArchive`: `entry.getName().startsWith("BOOT-INF/lib/")`). The scanner chose the
 * archives nested in a jar by extension, so log4j-core 2.14.1 stored as `BOOT-INF/lib/log4j-core` (or
 * `….so`, `….txt`) ran in the application and was never read: the scan was complete with no finding.
 * Jars here are built with the real JDK's `jar` tool, stored (`--no-compress`), as Spring Boot requires
 * of nested libraries.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

describe('scan: Spring Boot library folders are read whatever the library is called', function () {
  this.timeout(180_000);
  let tmp: string;
  let lib: Buffer;
  let n = 0;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-boot-libs-'));
    const src = path.join(tmp, 'lib');
    fs.mkdirSync(path.join(src, 'META-INF/maven/org.apache.logging.log4j/log4j-core'), { recursive: true });
    fs.writeFileSync(path.join(src, 'META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties'), 'groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n');
    fs.writeFileSync(path.join(src, 'Lib.java'), 'public class Lib { }\n');
    execFileSync('javac', ['Lib.java'], { cwd: src });
    execFileSync('jar', ['--create', '--file', 'lib.jar', 'Lib.class', 'META-INF/maven'], { cwd: src });
    lib = fs.readFileSync(path.join(src, 'lib.jar'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A fat jar (stored, as `spring-boot-maven-plugin` writes it) holding `entries` besides a manifest. */
  function fatJar(entries: Array<[string, Buffer]>): Buffer {
    const d = path.join(tmp, `fat${n++}`);
    for (const [name, content] of entries) {
      fs.mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
      fs.writeFileSync(path.join(d, name), content);
    }
    fs.writeFileSync(path.join(d, 'manifest.txt'), 'Main-Class: org.springframework.boot.loader.launch.JarLauncher\nStart-Class: com.example.App\n');
    execFileSync('jar', ['--create', '--no-compress', '--file', 'app.jar', '--manifest', 'manifest.txt', ...entries.map(([name]) => name.split('/')[0]!).filter((x, i, a) => a.indexOf(x) === i)], { cwd: d });
    return fs.readFileSync(path.join(d, 'app.jar'));
  }

  async function scan(files: Array<{ name: string; content: Buffer }>) {
    const dir = path.join(tmp, `l${n++}`);
    writeLayout(dir, [gzLayer(await makeTar(files))]);
    const s = await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') });
    return s.platforms[0]!.inventory;
  }

  it('property: a zip under a launcher library folder is the package it carries, under any name (fast-check, real jar tool)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('BOOT-INF/lib/', 'WEB-INF/lib/', 'WEB-INF/lib-provided/', 'BOOT-INF/lib/nested/dir/'),
      fc.constantFrom('log4j-core', 'log4j-core.so', 'x.txt', 'LIB', 'log4j-core-2.14.1.JAR.bak', 'a.jar'),
      fc.constantFrom('app.jar', 'app.war', 'app.bin'),
      async (folder, base, outer) => {
        const inv = await scan([{ name: `srv/${outer}`, content: fatJar([[`${folder}${base}`, lib]]) }]);
        const found = inv.packages.filter((p) => p.name === 'org.apache.logging.log4j:log4j-core').map((p) => `${p.version} ${p.path}`);
        expect(found, `${outer}!/${folder}${base}`).to.deep.equal([`2.14.1 /srv/${outer}!/${folder}${base}`]);
        expect(inv.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
      },
    ), { numRuns: 25 });
  });

  it('a file of a library folder that is no zip is no library (the launcher cannot open it), and other folders keep the extension rule', async () => {
    const inv = await scan([{ name: 'srv/app.jar', content: fatJar([
      ['BOOT-INF/lib/README', Buffer.from('not a jar\n')],
      ['BOOT-INF/classpath.idx', Buffer.from('- "BOOT-INF/lib/README"\n')],
      ['BOOT-INF/classes/data.bin', lib],
    ]) }]);
    expect(inv.packages.filter((p) => p.ecosystem === 'Maven')).to.deep.equal([]);
    expect(inv.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
  });
});
