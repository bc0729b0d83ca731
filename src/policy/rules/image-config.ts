/**
 * `match.image`: one check of the image configuration (OCI image-spec config.md): runs as root,
 * maximum age since `created`, maximum size, required labels, forbidden exposed ports.
 */
import { formatDuration, formatSize, parseDuration, parseSize } from '../../config/units.js';
import type { ImageMatchSpec, PolicyInput, PolicyItem } from '../types.js';
import { parseDate, plural, type RuleBody, type RuleCompiler } from './common.js';

/** The scanner's config check id for an image whose user is root. */
export const RUNS_AS_ROOT_CHECK = 'runs-as-root';

/**
 * True when the image runs as root: its config has no `User`, or `root` / `0` (with any group), or the
 * scanner reported the `runs-as-root` check (it may resolve a user name to uid 0 through /etc/passwd).
 */
export function runsAsRoot(input: PolicyInput): { root: boolean; user: string | undefined } {
  const user = input.imageConfig?.config?.User?.trim();
  const byConfig = input.imageConfig !== undefined && (!user || ['root', '0'].includes(user.split(':')[0]));
  const byCheck = input.config.some((c) => c.check === RUNS_AS_ROOT_CHECK);
  return { root: byConfig || byCheck, user };
}

interface PortRange {
  from: number;
  to: number;
  proto?: string;
  label: string;
}

function parsePort(p: string | number): PortRange {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(String(p));
  if (!m) return { from: -1, to: -1, label: String(p) };
  const from = Number(m[1]);
  return { from, to: m[2] ? Number(m[2]) : from, proto: m[3], label: String(p) };
}

/** Compiles an image configuration rule (exactly one check). */
export const compileImageRule: RuleCompiler<ImageMatchSpec> = (spec, _rule, at, problem): RuleBody => {
  if (spec.runsAsRoot) {
    return {
      match: ({ input }) => {
        const { root, user } = runsAsRoot(input);
        return root
          ? [{ id: RUNS_AS_ROOT_CHECK, text: user ? `USER is "${user}"` : 'no USER is set' }]
          : [];
      },
      describe: () => 'the image runs as root',
      advice: 'Set a non-root USER in the Dockerfile (e.g. USER 10001)',
    };
  }
  if (spec.maxAge !== undefined) {
    const max = parseDuration(spec.maxAge);
    return {
      match: ({ input, now }) => {
        const created = parseDate(input.imageConfig?.created);
        if (created === undefined || now - created <= max) return [];
        const days = Math.floor((now - created) / 86_400_000);
        return [{ id: 'image-age', text: `created ${input.imageConfig?.created} (${days} days ago)` }];
      },
      describe: () => `image older than ${formatDuration(max)}`,
      advice: 'Rebuild the image from an up-to-date base',
    };
  }
  if (spec.maxSize !== undefined) {
    const max = parseSize(spec.maxSize);
    return {
      match: ({ input }) =>
        input.imageSize !== undefined && input.imageSize > max
          ? [{ id: 'image-size', text: `${formatSize(input.imageSize)} (${input.imageSize} bytes)` }]
          : [],
      describe: () => `image larger than ${formatSize(max)}`,
      advice: 'Slim the image (multi-stage build, smaller base, fewer files)',
    };
  }
  if (spec.requiredLabels) {
    const required = spec.requiredLabels;
    return {
      match: ({ input }) => {
        const labels = input.imageConfig?.config?.Labels ?? {};
        return required.filter((l) => !labels[l]).map((l): PolicyItem => ({ id: 'required-labels', text: `label ${l} is missing` }));
      },
      describe: (items) => plural(items.length, 'required label missing', 'required labels missing'),
      advice: 'Add the labels (LABEL in the Dockerfile, or --label at build time)',
    };
  }
  if (spec.forbiddenPorts) {
    const ports = spec.forbiddenPorts.map(parsePort);
    ports.forEach((p, i) => {
      if (p.from < 1 || p.to > 65535 || p.to < p.from) problem([...at, 'forbiddenPorts', i], `"${p.label}" is not a port or port range within 1-65535`);
    });
    return {
      match: ({ input }) => {
        const out: PolicyItem[] = [];
        for (const key of Object.keys(input.imageConfig?.config?.ExposedPorts ?? {})) {
          const [num, proto = 'tcp'] = key.split('/');
          const n = Number(num);
          const hit = ports.find((p) => n >= p.from && n <= p.to && (!p.proto || p.proto === proto.toLowerCase()));
          if (hit) out.push({ id: 'forbidden-ports', text: `exposes ${n}/${proto} (forbidden: ${hit.label})` });
        }
        return out;
      },
      describe: (items) => plural(items.length, 'forbidden port exposed', 'forbidden ports exposed'),
      advice: 'Remove the EXPOSE instructions for these ports',
    };
  }
  // The schema requires exactly one check; reaching here means the schema and this file disagree.
  problem(at, 'no image check given');
  return { match: () => [], describe: () => 'image' };
};
