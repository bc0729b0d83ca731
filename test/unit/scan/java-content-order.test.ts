/**
 * lang/java-content decided whether a zip is a Java archive by its first entry (`META-INF/`): a jar
 * whose first entry is a class (`zip app.bin Main.class META-INF/...`) and that yauzl refuses (bytes
 * after the end record, which the JDK's ZipFile reads past) or that does not fit the temp-space limit
 * was dropped as "not Java", and the scan came out complete. The JDK runs it: `java -jar` finds the
 * manifest through the central directory wherever its entry is, and a class path (`java -cp app.bin
 * Main`) reads the zip with trailing bytes too. Now a
 * `META-INF/` name anywhere in the file makes it a Java archive: read, or the scan is incomplete.
 * The real JDK builds and runs every generated variant.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

describe('scan: Java archives found by content, whatever their first entry', function () {
  this.timeout(180_000);
  let tmp: string;
  let src: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-java-order-'));
    src = path.join(tmp, 'src');
    fs.mkdirSync(path.join(src, 'META-INF/maven/com.example/evil'), { recursive: true });
    fs.writeFileSync(path.join(src, 'Main.java'), 'public class Main { public static void main(String[] a) { System.out.println("ran"); } }\n');
    fs.writeFileSync(path.join(src, 'META-INF/MANIFEST.MF'), 'Manifest-Version: 1.0\nMain-Class: Main\n\n');
    fs.writeFileSync(path.join(src, 'META-INF/maven/com.example/evil/pom.properties'), 'groupId=com.example\nartifactId=evil\nversion=1.0.0\n');
    execFileSync('javac', ['Main.java'], { cwd: src });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  let n = 0;
  async function scan(name: string, content: Buffer, limit?: number) {
    const dir = path.join(tmp, `l${n++}`);
    writeLayout(dir, [gzLayer(await makeTar([{ name, content }]))]);
    const s = await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch'), ...(limit ? { tmpDirLimitBytes: limit } : {}) });
    return s.platforms[0]!.inventory;
  }

  const ran = new Map<string, boolean>();
  it('a jar the JDK runs is reported or the scan is incomplete: entry order, trailing bytes, temp-space limit (fast-check, real JDK)', async () => {
    let missedBefore = 0;
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('class-first', 'meta-first'),
      fc.constantFrom('', 'trailing junk\n', 'PK\x05\x06junk'),
      fc.boolean(),
      async (order, tail, small) => {
        const key = `${order}|${JSON.stringify(tail)}`;
        const file = path.join(tmp, `app-${order}-${Buffer.from(tail).toString('hex')}.bin`);
        if (!fs.existsSync(file)) {
          const entries = ['META-INF/MANIFEST.MF', 'META-INF/maven/com.example/evil/pom.properties'];
          const list = order === 'class-first' ? ['Main.class', ...entries] : [...entries, 'Main.class'];
          execFileSync('zip', ['-q', '-X', '-D', file, ...list], { cwd: src });
          fs.appendFileSync(file, Buffer.from(tail, 'latin1'));
        }
        // `java -jar` without trailing bytes (its launcher reads the end record strictly), on a class path with them
        if (!ran.has(key)) ran.set(key, execFileSync('java', tail ? ['-cp', file, 'Main'] : ['-jar', file], { encoding: 'utf8' }) === 'ran\n');
        expect(ran.get(key), `the JDK runs ${key}`).to.equal(true);
        const content = fs.readFileSync(file);
        const inv = await scan('srv/app.bin', content, small ? 64 : undefined);
        const found = inv.packages.some((p) => p.name === 'com.example:evil' && p.version === '1.0.0');
        const incomplete = inv.diagnostics.some((d) => d.incomplete);
        if (order === 'class-first' && (tail !== '' || small)) missedBefore++;
        expect(found || incomplete, `${key} small=${small}: ${JSON.stringify(inv.diagnostics)}`).to.equal(true);
      },
    ), { numRuns: 16 });
    expect(missedBefore).to.be.greaterThan(0);
  });
});
