/**
 * Argument errors of the real CLI: whether commander finds them (missing argument, unknown option
 * or command, a value outside the choices) or pushgate does, each is exactly one `pushgate: ` line on
 * stderr, nothing on stdout, exit 2 (DESIGN.md §3).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../helpers/cli.js';

describe('cli: argument errors are one line, exit 2', function () {
  this.timeout(120_000);
  let dir: string;

  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-args-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[string[], RegExp]> = [
    [['scan'], /^pushgate: missing required argument 'target'; run with --help for usage$/],
    [['scan', 'oci:nowhere', '--bogus'], /^pushgate: unknown option '--bogus'; run with --help for usage$/],
    [['scan', 'oci:nowhere', '--format', 'xml'], /^pushgate: option '--format <format>' argument 'xml' is invalid\. Allowed choices are table, json, sarif, cyclonedx \(or Trivy's cyclonedx-json\); run with --help/],
    // commander adds its suggestion on a second line: folded into the one line
    [['scan', 'oci:nowhere', '--formt', 'json'], /^pushgate: unknown option '--formt' \(Did you mean --format\?\); run with --help/],
    [['scan', 'oci:a', 'oci:b'], /^pushgate: too many arguments for 'scan'/],
    [['scna'], /^pushgate: unknown command 'scna'/],
    [['db', 'status', '--format', 'xml'], /^pushgate: option '--format <FORMAT>' argument 'xml' is invalid/],
    [['scan', 'oci:nowhere', '--severity-threshold', 'huge'], /^pushgate: --severity-threshold "huge": use one of /],
    [['scan', 'oci:nowhere', '--platform', 'amd64'], /^pushgate: --platform "amd64": expected OS\/ARCH\[\/VARIANT\]/],
  ];
  for (const [args, want] of cases) {
    it(`pushgate ${args.join(' ')}`, () => {
      const r = runCli(args, { cwd: dir });
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr.endsWith('\n'), JSON.stringify(r.stderr)).to.equal(true);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).to.have.length(1);
      expect(lines[0]).to.match(want);
    });
  }
});
