/**
 * A Java archive under a name without an archive extension (`app.bin`, `service`) was never read: the
 * Java analyzer wants `*.jar`/`*.war`/… by name, and `java -jar app.bin` runs the file whatever it is
 * called (the real JDK below builds and runs one). lang/java-content looks at every file's first bytes
 * and reads the zips that carry a manifest or Maven metadata, as a `.jar`.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

const J = path.resolve('test/fixtures/scan/java');

describe('scan: Java archives found by content, whatever their name', function () {
  this.timeout(120_000);
  let tmp: string;
  let jar: Buffer;
  let plainZip: Buffer;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-java-content-'));
    const src = path.join(tmp, 'src');
    fs.mkdirSync(path.join(src, 'META-INF/maven/com.example/evil'), { recursive: true });
    fs.writeFileSync(path.join(src, 'Main.java'), 'public class Main { public static void main(String[] a) { System.out.println("ran"); } }\n');
    fs.writeFileSync(path.join(src, 'META-INF/maven/com.example/evil/pom.properties'), 'groupId=com.example\nartifactId=evil\nversion=1.0.0\n');
    execFileSync('javac', ['Main.java'], { cwd: src });
    execFileSync('jar', ['cfe', 'app.bin', 'Main', 'Main.class', 'META-INF/maven'], { cwd: src });
    // the JDK runs it under this name
    expect(execFileSync('java', ['-jar', 'app.bin'], { cwd: src, encoding: 'utf8' })).to.equal('ran\n');
    jar = fs.readFileSync(path.join(src, 'app.bin'));
    fs.writeFileSync(path.join(src, 'a.txt'), 'data\n'.repeat(100));
    execFileSync('zip', ['-q', '-X', 'plain.zip', 'a.txt'], { cwd: src });
    plainZip = fs.readFileSync(path.join(src, 'plain.zip'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  let n = 0;
  async function scan(files: Array<{ name: string; content: Buffer; mode?: number }>) {
    const dir = path.join(tmp, `l${n++}`);
    writeLayout(dir, [gzLayer(await makeTar(files))]);
    const s = await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') });
    return s.platforms[0]!.inventory;
  }

  it('a jar under any name and mode is the Maven package it carries; a zip without Java metadata is nothing (fast-check, real JDK)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('app.bin', 'opt/svc/service', 'srv/run', 'x.zip', 'lib/plugin.dat'),
      fc.constantFrom(0o644, 0o755, 0o600, 0o000),
      async (name, mode) => {
        const inv = await scan([{ name, content: jar, mode }, { name: `${name}-data`, content: plainZip, mode }]);
        expect(inv.packages.map((p) => `${p.analyzer} ${p.path} ${p.name}@${p.version}`)).to.deep.equal([`lang/java-content /${name} com.example:evil@1.0.0`]);
        expect(inv.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
      },
    ), { numRuns: 10 });
  });

  it('archive names stay with lang/java (no second report), and a WAR without META-INF under another name is not a runnable jar', async () => {
    const inv = await scan([
      { name: 'usr/share/java/commons-lang3.jar', content: fs.readFileSync(path.join(J, 'commons-lang3.jar')) },
      { name: 'srv/app-war', content: fs.readFileSync(path.join(J, 'app.war')) },
    ]);
    expect(inv.packages.map((p) => `${p.analyzer} ${p.path} ${p.name}@${p.version}`)).to.deep.equal(['lang/java /usr/share/java/commons-lang3.jar org.apache.commons:commons-lang3@3.12.0']);
  });

  it('a file that starts like a jar (META-INF first) but cannot be read makes the scan incomplete', async () => {
    const cut = jar.subarray(0, Math.floor(jar.length / 2));
    const inv = await scan([{ name: 'app.bin', content: cut }]);
    expect(inv.diagnostics.filter((d) => d.incomplete).map((d) => `${d.code} ${d.path}`)).to.deep.equal(['parse-error /app.bin']);
  });
});
