/**
 * The analyzer list, explicit (osv-scalibr extractor/filesystem/list/list.go): no registration by
 * import side effect. The set's names and versions make the layer cache key (engine.ts).
 */
import type { Analyzer } from './types.js';
import { osReleaseAnalyzer } from './os-release.js';
import { dpkgAnalyzer } from './dpkg.js';
import { dpkgConfigAnalyzer } from './dpkg-config.js';
import { apkAnalyzer } from './apk.js';
import { npmAnalyzer } from './npm.js';
import { npmLockAnalyzer } from './npm-lock.js';
import { npmZipAnalyzer } from './npm-zip.js';
import { npmPnpAnalyzer } from './npm-pnp.js';
import { yarnLockAnalyzer } from './yarn-lock.js';
import { pnpmLockAnalyzer } from './pnpm-lock.js';
import { secretsAnalyzer } from './secrets.js';
import { pythonAnalyzer, pythonEggAnalyzer } from './python.js';
import { rpmAnalyzer } from './rpm.js';
import { rpmMacrosAnalyzer } from './rpm-macros.js';
import { goBinaryAnalyzer } from './go-binary.js';
import { javaAnalyzer, javaContentAnalyzer } from './java.js';
import { rubyAnalyzer } from './ruby.js';
import { cargoLockAnalyzer } from './cargo-lock.js';
import { cargoAuditableAnalyzer } from './cargo-auditable.js';
import { composerAnalyzer } from './composer.js';
import { dotnetAnalyzer } from './dotnet.js';

/** Every analyzer, in reporting order. */
export const ANALYZERS: readonly Analyzer[] = [
  osReleaseAnalyzer,
  dpkgAnalyzer,
  dpkgConfigAnalyzer,
  apkAnalyzer,
  rpmAnalyzer,
  rpmMacrosAnalyzer,
  npmAnalyzer,
  npmZipAnalyzer,
  npmPnpAnalyzer,
  npmLockAnalyzer,
  yarnLockAnalyzer,
  pnpmLockAnalyzer,
  pythonAnalyzer,
  pythonEggAnalyzer,
  goBinaryAnalyzer,
  javaAnalyzer,
  javaContentAnalyzer,
  rubyAnalyzer,
  cargoLockAnalyzer,
  cargoAuditableAnalyzer,
  composerAnalyzer,
  dotnetAnalyzer,
  secretsAnalyzer,
];
