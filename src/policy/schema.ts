/**
 * JSON schema (validated with ajv) of a policy document, `apiVersion: pushgate.dev/v1`, `kind: Policy`.
 * Unknown keys are errors. Checks the schema cannot express (rule names unique, rule sets named by
 * mappings exist, npm ranges parse, exception scope present) are done by the compiler, with positions.
 */
import { SEVERITIES, SEVERITY_SOURCES } from '../core/finding.js';

const str = { type: 'string', minLength: 1 } as const;
const strList = { type: 'array', items: str, minItems: 1 } as const;
const duration = { type: 'string', format: 'duration', 'x-message': 'must be a duration with a unit, e.g. 12h, 7d, 2w' } as const;
const severity = { enum: [...SEVERITIES] } as const;
/** What a re-judgement that newly fails an already judged image may do (src/monitor). */
const onNewFindings = { enum: ['notify', 'warn', 'quarantine', 'reject'] } as const;
/** Per severity: how long a new finding only warns before `onNewFindings: quarantine|reject` enforces. */
const grace = { type: 'object', additionalProperties: false, properties: Object.fromEntries(SEVERITIES.map((s) => [s, duration])) } as const;
const action = { enum: ['reject', 'quarantine', 'warn'] } as const;
const mode = { enum: ['enforce', 'warn', 'audit'] } as const;
const name = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9._-]*$',
  'x-message': 'must be a lowercase name of letters, digits, ".", "_" and "-" (it becomes a metric label)',
} as const;
const digest = {
  type: 'string',
  pattern: '^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$',
  'x-message': 'must be a digest, sha256:<64 lowercase hex>',
} as const;

const vulnerability = {
  type: 'object',
  additionalProperties: false,
  properties: {
    minSeverity: severity,
    minCvss: { type: 'number', minimum: 0, maximum: 10 },
    fixAvailable: { type: 'boolean' },
    fixGracePeriod: duration,
    minAge: duration,
    maxAge: duration,
    ids: strList,
    ecosystems: strList,
    packages: strList,
    kev: { type: 'boolean' },
    epss: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      'x-message': 'takes min and/or minPercentile, each between 0 and 1',
      properties: { min: { type: 'number', minimum: 0, maximum: 1 }, minPercentile: { type: 'number', minimum: 0, maximum: 1 } },
    },
  },
} as const;

const eol = {
  type: 'object',
  additionalProperties: false,
  properties: {
    allowExtendedSupport: { type: 'boolean' },
    gracePeriod: duration,
    kinds: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['os', 'runtime'] } },
    products: strList,
  },
} as const;

const packages = {
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      ecosystem: str,
      name: str,
      versions: { type: ['string', 'array'], minLength: 1, minItems: 1, items: str },
    },
  },
} as const;

const secret = {
  type: 'object',
  additionalProperties: false,
  properties: { rules: strList, minSeverity: severity },
} as const;

const port = {
  type: ['string', 'integer'],
  pattern: '^[0-9]{1,5}(-[0-9]{1,5})?(/(tcp|udp|sctp))?$',
  minimum: 1,
  maximum: 65535,
  'x-message': 'must be a port: 22, "22/tcp" or a range "6000-6063/tcp"',
} as const;

const image = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  'x-message': 'must hold exactly one check: runsAsRoot, maxAge, maxSize, requiredLabels or forbiddenPorts (write one rule per check)',
  properties: {
    runsAsRoot: { const: true },
    maxAge: duration,
    maxSize: { type: ['string', 'integer'], format: 'size', minimum: 0 },
    requiredLabels: strList,
    forbiddenPorts: { type: 'array', minItems: 1, items: port },
  },
} as const;

const baseImage = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  'x-message': 'must hold exactly one check: allowed, upToDate or maxAge (write one rule per check)',
  properties: {
    upToDate: { type: 'object', additionalProperties: false, properties: { grace: duration } },
    maxAge: duration,
    allowed: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        'x-message': 'each allowed base needs name (a glob) or diffIDs',
        properties: {
          name: str,
          diffIDs: { type: 'array', minItems: 1, items: digest },
        },
      },
    },
  },
} as const;

const rule = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'action', 'match'],
  properties: {
    name,
    description: { type: 'string' },
    action,
    excludeBase: { type: 'boolean' },
    match: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      'x-message': 'must hold exactly one of: vulnerability, packages, secret, image, baseImage, eol',
      properties: { vulnerability, packages, secret, image, baseImage, eol },
    },
  },
} as const;

const ruleSet = {
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: {
    description: { type: 'string' },
    onIncomplete: { enum: ['reject', 'quarantine', 'warn', 'allow'] },
    onUncovered: { enum: ['reject', 'quarantine', 'warn', 'allow'] },
    unknownSeverity: { enum: ['ignore', ...SEVERITIES.filter((s) => s !== 'unknown')] },
    excludeBase: { type: 'boolean' },
    rules: { type: 'array', items: rule },
  },
} as const;

// Longest registry/repository/tag glob (rules/common.ts MAX_GLOB_LENGTH: picomatch's compile is quadratic
// in nesting, 76 s for 65,000 characters, several compiles per policy load). A registry host is at most
// 255 characters, a repository name 255 and a tag 128.
const glob = { ...str, maxLength: 1024, 'x-message': 'must be a glob of 1 to 1024 characters (names are at most 255)' } as const;

const signatureAuthority = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  minProperties: 2,
  maxProperties: 2,
  'x-message': 'each authority has a name and exactly one of key (a PEM public key) or keyless (issuer and subject)',
  properties: {
    name,
    key: { type: 'string', pattern: '-----BEGIN PUBLIC KEY-----', 'x-message': 'must be a PEM public key (-----BEGIN PUBLIC KEY-----), as in cosign.pub' },
    keyless: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer'],
      minProperties: 2,
      maxProperties: 2,
      'x-message': 'takes issuer and exactly one of subject or subjectRegExp',
      properties: { issuer: { type: 'string', pattern: '^https?://', 'x-message': 'must be the OIDC issuer URL' }, subject: str, subjectRegExp: str },
    },
  },
} as const;

const signatureRule = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'repository', 'authorities'],
  properties: {
    name,
    registry: glob,
    repository: glob,
    require: { enum: ['anyOf', 'allOf'] },
    mode: { enum: ['enforce', 'warn'] },
    authorities: { type: 'array', minItems: 1, items: signatureAuthority },
  },
} as const;

/** The policy document schema. */
export const policySchema = {
  $id: 'https://pushgate.dev/schemas/policy-v1.json',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'pushgate.dev/v1' },
    kind: { const: 'Policy' },
    metadata: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: { name, description: { type: 'string' } },
    },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['ruleSets'],
      properties: {
        ruleSets: { type: 'object', minProperties: 1, additionalProperties: ruleSet },
        mappings: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['ruleSet'],
            properties: { name: str, registry: glob, repository: glob, tag: glob, ruleSet: str, mode, onNewFindings, grace },
          },
        },
        default: {
          type: 'object',
          additionalProperties: false,
          required: ['ruleSet'],
          properties: { ruleSet: str, mode, onNewFindings, grace },
        },
        exceptions: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['reason', 'owner', 'expires'],
            properties: {
              name: str,
              reason: str,
              owner: str,
              expires: { type: 'string', format: 'date-or-date-time' },
              ids: strList,
              packages: strList,
              repository: glob,
              registry: glob,
              digest,
              rules: strList,
            },
          },
        },
        signatures: { type: 'array', items: signatureRule },
        vex: {
          type: 'object',
          additionalProperties: false,
          required: ['authorities'],
          properties: { authorities: { type: 'array', minItems: 1, items: signatureAuthority } },
        },
        severity: {
          type: 'object',
          additionalProperties: false,
          properties: {
            prefer: {
              type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...SEVERITY_SOURCES] },
              'x-message': `lists severity sources in order, each once: ${SEVERITY_SOURCES.join(', ')}`,
            },
          },
        },
      },
    },
  },
} as const;
