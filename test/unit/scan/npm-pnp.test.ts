/**
 * Yarn's Plug'n'Play runtime loads each package from the `packageLocation` its data names, whatever the path
 * looks like. A location `./vendor/minimist/` (a plain folder) or `./deps/m.zip/minimist/` (a zip without
 * `node_modules/`) had the real Yarn 4 runtime load minimist 1.2.5 while the scan, reading installed
 * package.json files only beneath `node_modules/NAME/`, found no package, complete. The oracle is the real
 * `.pnp.cjs` Yarn 4.5.0 wrote (test/fixtures/scan/lang/README.md), run by node, its data in `.pnp.data.json`
 * or inlined the way Yarn 3 and 4 inline it (`const RAW_RUNTIME_STATE = '…'`, generatePnpScript
 * generateInlinedSetup; the old reader matched only `JSON.parse('…')` in the call and said nothing of it).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { jsStringAt } from '../../../src/scan/analyzers/npm-pnp.js';
import { scanLayers, treeEntries } from './layout-helper.js';

const FIX = path.resolve('test/fixtures/scan/lang/yarn-pnp');
const CACHE_ZIP = 'minimist-npm-1.2.5-ced0e1f617-c143b0c199.zip';
const MINIMIST = { name: 'minimist', version: '1.2.5', main: 'index.js' };

/** Yarn's string literal for inlined data (generatePnpScript `generateStringLiteral`). */
function yarnLiteral(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\\n')}'`;
}

describe('scan: where Yarn Plug\'n\'Play loads a package from is read, or the scan is incomplete', function () {
  this.timeout(300_000);
  let tmp: string;
  let n = 0;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-npm-pnp-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A zip (the real `zip` tool) holding minimist 1.2.5 under `prefix`. */
  function zipWith(prefix: string): Buffer {
    const src = path.join(tmp, `z${n++}`);
    fs.mkdirSync(path.join(src, prefix, 'minimist'), { recursive: true });
    fs.writeFileSync(path.join(src, prefix, 'minimist/package.json'), JSON.stringify(MINIMIST));
    fs.writeFileSync(path.join(src, prefix, 'minimist/index.js'), 'module.exports = () => ({});\n');
    execFileSync('zip', ['-q', '-r', '-X', 'out.zip', prefix ? prefix.split('/')[0]! : 'minimist'], { cwd: src });
    return fs.readFileSync(path.join(src, 'out.zip'));
  }

  /** The project: minimist at `loc`, `files` besides, the data inlined or not, `packageLocation` first or last. */
  function project(loc: string, files: Record<string, Buffer>, inline: boolean | 'raw', locationLast: boolean): string {
    const app = path.join(tmp, `app${n++}`);
    fs.mkdirSync(app, { recursive: true });
    const data = JSON.parse(fs.readFileSync(path.join(FIX, 'pnp.data.json'), 'utf8')) as { packageRegistryData: Array<[string | null, Array<[string | null, Record<string, unknown>]>]> };
    for (const [name, refs] of data.packageRegistryData) {
      for (const r of refs) {
        if (name === 'minimist') r[1].packageLocation = loc;
        if (locationLast) { const { packageLocation, ...rest } = r[1]; r[1] = { ...rest, packageLocation }; }
      }
    }
    const json = JSON.stringify(data, null, 2);
    let cjs = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'pnp.cjs.gz'))).toString('utf8');
    if (inline === 'raw') {
      // Yarn 3 and 4's own inlined form (generatePnpScript generateInlinedSetup): the literal in RAW_RUNTIME_STATE
      cjs = cjs.replace(/(function \$\$SETUP_STATE\(hydrateRuntimeState, basePath\) \{\n)[\s\S]*?\n\}\n/, (_all, head: string) => `const RAW_RUNTIME_STATE =\n${yarnLiteral(json)};\n\n${head}  return hydrateRuntimeState(JSON.parse(RAW_RUNTIME_STATE), {basePath: basePath || __dirname});\n}\n`);
      expect(cjs).to.include('const RAW_RUNTIME_STATE =\n\'{\\');
    } else if (inline) {
      cjs = cjs.replace(/(function \$\$SETUP_STATE\(hydrateRuntimeState, basePath\) \{\n)[\s\S]*?\n\}\n/, (_all, head: string) => `${head}  return hydrateRuntimeState(JSON.parse(${yarnLiteral(json)}), {basePath: basePath || __dirname});\n}\n`);
      expect(cjs).to.include('JSON.parse(\'{\\');
    } else {
      fs.writeFileSync(path.join(app, '.pnp.data.json'), json);
    }
    fs.writeFileSync(path.join(app, '.pnp.cjs'), cjs);
    fs.copyFileSync(path.join(FIX, 'package.json'), path.join(app, 'package.json'));
    for (const [p, c] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(app, p)), { recursive: true });
      fs.writeFileSync(path.join(app, p), c);
    }
    return app;
  }

  /** The package.json the real runtime loads as minimist, as a path in the image (/srv/app/…). */
  function runtime(app: string): string {
    const at = execFileSync('node', ['-r', './.pnp.cjs', '-e', 'process.stdout.write(require.resolve("minimist/package.json"))'], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return `/srv/app/${path.relative(app, at)}`;
  }

  const scan = (app: string) => scanLayers(tmp, `l${n++}`, [treeEntries(app, 'srv/app')]);

  /** Where minimist is put: its location in the PnP data and the files holding it. */
  const placements = fc.oneof(
    // as Yarn writes them: read by lang/npm-zip and lang/npm, the scan complete
    fc.constantFrom('.yarn/cache', 'deps').map((d) => ({ loc: `./${d}/${CACHE_ZIP}/node_modules/minimist/`, files: () => ({ [`${d}/${CACHE_ZIP}`]: fs.readFileSync(path.join(FIX, CACHE_ZIP)) }) })),
    fc.constantFrom('.yarn/unplugged/minimist-npm-1.2.5-x', 'lib').map((d) => ({ loc: `./${d}/node_modules/minimist/`, files: () => ({ [`${d}/node_modules/minimist/package.json`]: Buffer.from(JSON.stringify(MINIMIST)), [`${d}/node_modules/minimist/index.js`]: Buffer.from('module.exports = () => ({});\n') }) })),
    // elsewhere: a plain folder, a zip without node_modules/
    fc.constantFrom('vendor', 'vendor/node_modules/x/..', 'a/b', '.yarn/unplugged/m').map((d) => ({ loc: `./${d}/minimist/`, files: () => ({ [`${path.posix.normalize(d)}/minimist/package.json`]: Buffer.from(JSON.stringify(MINIMIST)), [`${path.posix.normalize(d)}/minimist/index.js`]: Buffer.from('module.exports = () => ({});\n') }) })),
    fc.constantFrom('', 'pkg', 'node_modules/minimist/x').map((prefix) => ({ loc: `./deps/m.zip/${prefix ? `${prefix}/` : ''}minimist/`, files: () => ({ 'deps/m.zip': zipWith(prefix) }) })),
  );

  it('property: the package.json the real runtime loads is reported, or the scan is incomplete; Yarn\'s own locations stay complete (fast-check)', async () => {
    const seen = { reported: 0, incomplete: 0 };
    await fc.assert(fc.asyncProperty(placements, fc.constantFrom(false, true, 'raw' as const), fc.boolean(), async (where, inline, locationLast) => {
      const app = project(where.loc, where.files(), inline, locationLast);
      const at = runtime(app);
      const inv = await scan(app);
      const label = `${where.loc} inline=${inline}: the runtime loads ${at}`;
      const reported = inv.packages.some((p) => p.ecosystem === 'npm' && p.name === 'minimist' && p.version === '1.2.5' && p.path === at);
      const incomplete = inv.diagnostics.filter((d) => d.incomplete);
      if (reported) {
        seen.reported++;
        expect(incomplete, label).to.deep.equal([]);
      } else {
        seen.incomplete++;
        expect(incomplete.map((d) => d.code), label).to.include('pnp-location');
      }
    }), { numRuns: 30 });
    expect(seen.reported).to.be.greaterThan(0);
    expect(seen.incomplete).to.be.greaterThan(0);
  });

  it('property: a .pnp.cjs that is not one of Yarn\'s setups, whatever the runtime loads, is incomplete (real runtime, fast-check)', async () => {
    // the data the runtime really loads: minimist from ./vendor/minimist/, a folder pushgate never reads packages in
    const vendor = { 'vendor/minimist/package.json': Buffer.from(JSON.stringify(MINIMIST)), 'vendor/minimist/index.js': Buffer.from('module.exports = () => ({});\n') };
    const setup = /(function \$\$SETUP_STATE\(hydrateRuntimeState, basePath\) \{\n)([\s\S]*?)\n\}\n/;
    const evasions: Array<[string, (cjs: string, app: string) => string]> = [
      // a decoy inlined call in a comment before the real one
      ['decoy comment', (cjs) => cjs.replace('"use strict";', `"use strict";\n/* hydrateRuntimeState(JSON.parse('{}')) */`)],
      // the same JSON in a template literal
      ['template literal', (cjs) => cjs.replace(/JSON\.parse\('([\s\S]*?)'\), \{basePath/, (_a, lit: string) => `JSON.parse(\`${(0, eval)(`'${lit}'`).replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${')}\`), {basePath`)],
      // the data read from another file
      ['other data file', (cjs, app) => { fs.renameSync(path.join(app, '.pnp.data.json'), path.join(app, 'deps.json')); return cjs.replace('".pnp.data.json"', '"deps.json"'); }],
      // escapes in the RAW_RUNTIME_STATE literal node decodes otherwise than a naive reader: a continuation before
      // U+2028 / U+2029 (nothing), a legacy octal escape in a file without "use strict" (`\141` is `a`); each hid
      // packageRegistryData from the reader, the scan complete
      ...['\u2028', '\u2029'].map((lt): [string, (cjs: string) => string] => [`continuation before U+${lt.charCodeAt(0).toString(16)}`, (cjs) => cjs.replace('"packageRegistryData"', `"packageRegistryData\\${lt}"`)]),
      ['legacy octal escape, sloppy file', (cjs) => cjs.replace('"use strict";', '').replace('"packageRegistryData"', '"packageRegistryDat\\141"')],
      // a harmless setup first, the real one declared after it (the later declaration wins)
      // Yarn's RAW_RUNTIME_STATE, then assigned again (a var: the later value is the one parsed)
      ['raw state reassigned', (cjs) => cjs.replace(/RAW_RUNTIME_STATE =\n'([\s\S]*?)';\n/, (_a, lit: string) => `RAW_RUNTIME_STATE =\n'{"packageRegistryData":[]}';\nRAW_RUNTIME_STATE =\n'${lit}';\n`).replace('const RAW_RUNTIME_STATE', 'var RAW_RUNTIME_STATE')],
      ['second $$SETUP_STATE', (cjs) => cjs.replace(setup, (all, head: string) => `${head}  return hydrateRuntimeState(JSON.parse('{"__info":[],"dependencyTreeRoots":[],"ignorePatternData":null,"enableTopLevelFallback":false,"fallbackPool":[],"fallbackExclusionList":[],"packageRegistryData":[]}'), {basePath: basePath || __dirname});\n}\n${all}`)],
    ];
    await fc.assert(fc.asyncProperty(fc.constantFrom(...evasions), async ([label, evade]) => {
      const inline = label === 'other data file' ? false : /^(?:raw state reassigned|continuation|legacy octal)/.test(label) ? 'raw' : true;
      const app = project('./vendor/minimist/', vendor, inline, false);
      fs.writeFileSync(path.join(app, '.pnp.cjs'), evade(fs.readFileSync(path.join(app, '.pnp.cjs'), 'utf8'), app));
      expect(runtime(app), label).to.equal('/srv/app/vendor/minimist/package.json');
      const inv = await scan(app);
      expect(inv.packages.some((p) => p.name === 'minimist'), label).to.equal(false);
      const codes = inv.diagnostics.filter((d) => d.incomplete).map((d) => d.code);
      expect(codes.some((c) => c === 'pnp-location' || c === 'parse-error'), `${label}: ${codes.join(',')}`).to.equal(true);
    }), { numRuns: 12, examples: evasions.map((e) => [e]) });
  });

  it('the split setups Yarn 2, 3 and 4 write are read through .pnp.data.json, not refused (real runtime)', async () => {
    const bodies = [
      // Yarn 3 (generateSplitSetup)
      `  return hydrateRuntimeState(require("./.pnp.data.json"), {basePath: basePath || __dirname});`,
      // Yarn 2, pnpDataPath at its default
      `  const path = require('path');\n  const dataLocation = path.resolve(__dirname, ".pnp.data.json");\n  return hydrateRuntimeState(require(dataLocation), {basePath: basePath || path.dirname(dataLocation)});`,
    ];
    for (const body of bodies) {
      for (const [loc, files, complete] of [
        [`./.yarn/unplugged/m/node_modules/minimist/`, { '.yarn/unplugged/m/node_modules/minimist/package.json': Buffer.from(JSON.stringify(MINIMIST)), '.yarn/unplugged/m/node_modules/minimist/index.js': Buffer.from('module.exports = () => ({});\n') }, true],
        ['./vendor/minimist/', { 'vendor/minimist/package.json': Buffer.from(JSON.stringify(MINIMIST)), 'vendor/minimist/index.js': Buffer.from('module.exports = () => ({});\n') }, false],
      ] as const) {
        const app = project(loc, files, false, false);
        const cjs = fs.readFileSync(path.join(app, '.pnp.cjs'), 'utf8').replace(/(function \$\$SETUP_STATE\(hydrateRuntimeState, basePath\) \{\n)[\s\S]*?\n\}\n/, (_a, head: string) => `${head}${body}\n}\n`);
        fs.writeFileSync(path.join(app, '.pnp.cjs'), cjs);
        const at = runtime(app);
        const inv = await scan(app);
        const codes = inv.diagnostics.filter((d) => d.incomplete).map((d) => `${d.code}:${d.path}`);
        expect(codes.filter((c) => c.endsWith('/.pnp.cjs')), body).to.deep.equal([]);
        if (complete) expect(inv.packages.some((p) => p.name === 'minimist' && p.path === at), body).to.equal(true);
        else expect(codes, body).to.include('pnp-location:/srv/app/.pnp.data.json');
      }
    }
  });

  it('property: a reference that is no string, loaded by the runtime from anywhere, is judged by its location (real runtime, fast-check)', async () => {
    // the runtime keys its package maps by the JSON value of the reference: minimist's `"npm:1.2.5"` made a
    // number or a boolean (depended on through an alias `["minimist", ["minimist", REF]]`) still loads from
    // ./vendor/minimist/; the reader skipped every reference that was no string, complete (null the runtime refuses)
    const vendor = { 'vendor/minimist/package.json': Buffer.from(JSON.stringify(MINIMIST)), 'vendor/minimist/index.js': Buffer.from('module.exports = () => ({});\n') };
    const seen = { vendor: 0, yarn: 0 };
    await fc.assert(fc.asyncProperty(fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()), fc.boolean(), fc.boolean(), async (ref, atVendor, inline) => {
      const loc = atVendor ? './vendor/minimist/' : './.yarn/unplugged/m/node_modules/minimist/';
      const files = atVendor ? vendor : { '.yarn/unplugged/m/node_modules/minimist/package.json': vendor['vendor/minimist/package.json'], '.yarn/unplugged/m/node_modules/minimist/index.js': vendor['vendor/minimist/index.js'] };
      const app = project(loc, files, false, false);
      const dataPath = path.join(app, '.pnp.data.json');
      const data = JSON.parse(fs.readFileSync(dataPath, 'utf8')) as { packageRegistryData: Array<[string | null, Array<[unknown, { packageDependencies: Array<[string, unknown]> }]>]> };
      for (const [name, refs] of data.packageRegistryData) {
        for (const r of refs) {
          if (name === 'minimist' && r[0] === 'npm:1.2.5') r[0] = ref;
          for (const dep of r[1].packageDependencies) if (dep[0] === 'minimist') dep[1] = ['minimist', ref];
        }
      }
      const json = JSON.stringify(data);
      if (inline) {
        fs.rmSync(dataPath);
        const cjs = fs.readFileSync(path.join(app, '.pnp.cjs'), 'utf8').replace(/(function \$\$SETUP_STATE\(hydrateRuntimeState, basePath\) \{\n)[\s\S]*?\n\}\n/, (_a, head: string) => `const RAW_RUNTIME_STATE =\n${yarnLiteral(json)};\n\n${head}  return hydrateRuntimeState(JSON.parse(RAW_RUNTIME_STATE), {basePath: basePath || __dirname});\n}\n`);
        fs.writeFileSync(path.join(app, '.pnp.cjs'), cjs);
      } else fs.writeFileSync(dataPath, json);
      const at = runtime(app);
      expect(at).to.equal(`/srv/app/${loc.slice(2)}package.json`);
      const inv = await scan(app);
      const reported = inv.packages.some((p) => p.name === 'minimist' && p.path === at);
      const incomplete = inv.diagnostics.some((d) => d.incomplete && d.code === 'pnp-location');
      expect(reported || incomplete, `${JSON.stringify(ref)} at ${loc}`).to.equal(true);
      // Yarn's own location stays complete whatever the reference
      if (!atVendor) expect(incomplete, JSON.stringify(ref)).to.equal(false);
      seen[atVendor ? 'vendor' : 'yarn']++;
    }), { numRuns: 16, examples: [[5, true, false], [false, true, true], [true, false, false]] });
    expect(seen.vendor).to.be.greaterThan(0);
    expect(seen.yarn).to.be.greaterThan(0);
  });

  it('the project\'s own top-level entry moved out of ./ and depended on as minimist is judged by its location (real runtime)', async () => {
    // `[null, [[null, {packageLocation: "./vendor/minimist/"}]]]` with `["minimist", [null, null]]`: the real runtime
    // loaded ./vendor/minimist/ as minimist, the reader skipped the top-level entry wherever it was, complete
    for (const [loc, complete] of [['./vendor/minimist/', false], ['./', true], ['./vendor/../', true]] as const) {
      const app = project('./vendor/minimist/', { 'vendor/minimist/package.json': Buffer.from(JSON.stringify(MINIMIST)), 'vendor/minimist/index.js': Buffer.from('module.exports = () => ({});\n') }, false, false);
      const dataPath = path.join(app, '.pnp.data.json');
      const data = JSON.parse(fs.readFileSync(dataPath, 'utf8')) as { packageRegistryData: Array<[string | null, Array<[unknown, { packageLocation: string; packageDependencies: Array<[string, unknown]> }]>]> };
      data.packageRegistryData = data.packageRegistryData.filter(([name]) => name !== 'minimist');
      for (const [name, refs] of data.packageRegistryData) {
        for (const r of refs) {
          if (name === null) r[1].packageLocation = loc;
          for (const dep of r[1].packageDependencies) if (dep[0] === 'minimist') dep[1] = [null, null];
        }
      }
      fs.writeFileSync(dataPath, JSON.stringify(data));
      const at = runtime(app);
      const inv = await scan(app);
      const incomplete = inv.diagnostics.some((d) => d.incomplete && d.code === 'pnp-location');
      if (complete) expect(incomplete, loc).to.equal(false);
      else {
        expect(at, loc).to.equal('/srv/app/vendor/minimist/package.json');
        expect(inv.packages.some((p) => p.name === 'minimist'), loc).to.equal(false);
        expect(incomplete, loc).to.equal(true);
      }
    }
  });

  it('property: what require("./.pnp.data.json") loads in place of the file is incomplete (real runtime, fast-check)', async () => {
    // Yarn 2 and 3's split setups require the data: with no regular .pnp.data.json, node loads .pnp.data.json.js
    // (.json, .node) or the folder's index / package.json main, and the runtime loaded ./vendor/minimist/ complete
    const vendor = { 'vendor/minimist/package.json': Buffer.from(JSON.stringify(MINIMIST)), 'vendor/minimist/index.js': Buffer.from('module.exports = () => ({});\n') };
    const bodies = [
      `  return hydrateRuntimeState(require("./.pnp.data.json"), {basePath: basePath || __dirname});`,
      `  const path = require('path');\n  const dataLocation = path.resolve(__dirname, ".pnp.data.json");\n  return hydrateRuntimeState(require(dataLocation), {basePath: basePath || path.dirname(dataLocation)});`,
    ];
    const standIns: Array<(json: string) => Record<string, string>> = [
      (json) => ({ '.pnp.data.json.js': `module.exports = ${json};` }),
      (json) => ({ '.pnp.data.json.json': json }),
      (json) => ({ '.pnp.data.json/index.js': `module.exports = ${json};` }),
      (json) => ({ '.pnp.data.json/index.json': json }),
      (json) => ({ '.pnp.data.json/package.json': '{"main": "../d.js"}', 'd.js': `module.exports = ${json};` }),
    ];
    await fc.assert(fc.asyncProperty(fc.constantFrom(...bodies), fc.constantFrom(...standIns), async (body, standIn) => {
      const app = project('./vendor/minimist/', vendor, false, false);
      const json = fs.readFileSync(path.join(app, '.pnp.data.json'), 'utf8');
      fs.rmSync(path.join(app, '.pnp.data.json'));
      for (const [p, c] of Object.entries(standIn(json))) {
        fs.mkdirSync(path.dirname(path.join(app, p)), { recursive: true });
        fs.writeFileSync(path.join(app, p), c);
      }
      fs.writeFileSync(path.join(app, '.pnp.cjs'), fs.readFileSync(path.join(app, '.pnp.cjs'), 'utf8').replace(/(function \$\$SETUP_STATE\(hydrateRuntimeState, basePath\) \{\n)[\s\S]*?\n\}\n/, (_a, head: string) => `${head}${body}\n}\n`));
      expect(runtime(app)).to.equal('/srv/app/vendor/minimist/package.json');
      const inv = await scan(app);
      expect(inv.packages.some((p) => p.name === 'minimist')).to.equal(false);
      expect(inv.diagnostics.some((d) => d.incomplete && (d.code === 'parse-error' || d.code === 'pnp-location')), Object.keys(standIn('')).join()).to.equal(true);
    }), { numRuns: 10 });
  });

  it('property: a JS single-quoted literal is decoded as node decodes it (fast-check)', () => {
    const escapes = fc.constantFrom('\\n', '\\t', "\\'", '\\"', '\\\\', '\\x41', '\\u00e9', '\\u{1F600}', '\\\n', '\\\r\n', '\\0', '\\q',
      // node's own decoding of these is the oracle: continuations before U+2028 / U+2029, raw ones, legacy octal
      // and \8 \9 (a character in sloppy code, a SyntaxError in strict code), malformed \x and \u
      '\\\u2028', '\\\u2029', '\u2028', '\u2029', '\\1', '\\01', '\\141', '\\8', '\\9', '\\x4', '\\xg0', '\\u12', '\\u{}', '\\u{110000}', '\\u{0000041}');
    const body = fc.array(fc.oneof(fc.string({ unit: 'binary' }).map((s) => s.replace(/[\\'\n\r\u2028\u2029]/g, '')), escapes, fc.constantFrom('0', '1', '7', '8', 'a', 'F', '{', '}'))).map((a) => a.join(''));
    /** What node makes of the literal in sloppy and in strict code (undefined: a SyntaxError). */
    const node = (lit: string, strict: boolean): string | undefined => {
      try { return (0, eval)(`${strict ? '"use strict"; ' : ''}${lit}`) as string; } catch { return undefined; }
    };
    const seen = { decoded: 0, refused: 0 };
    fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }).map((s) => yarnLiteral(s.replace(/\r/g, ''))), body.map((b) => `'${b}'`)), (lit) => {
      const sloppy = node(lit, false);
      const strict = node(lit, true);
      // read only where node reads it the same whichever code it is in; otherwise refused
      const want = sloppy !== undefined && sloppy === strict ? sloppy : undefined;
      expect(jsStringAt(`x(${lit})`, 2), JSON.stringify(lit)).to.equal(want);
      seen[want === undefined ? 'refused' : 'decoded']++;
    }), { numRuns: 1000, examples: [["'a\\\u2028b'"], ["'\\141'"], ["'\\8'"]] });
    expect(seen.decoded).to.be.greaterThan(0);
    expect(seen.refused).to.be.greaterThan(0);
  });
});
