/**
 * The JSON schema (draft-07, validated with ajv) of `config/pushgate.yaml` as written by people:
 * camelCase keys, durations as strings with a unit, sizes as strings or bytes. Unknown keys are
 * errors everywhere (`additionalProperties: false`). The loader maps this shape onto
 * {@link PushgateConfig} (durations → `…Ms`, sizes → `…Bytes`).
 */

const str = { type: 'string', minLength: 1 } as const;
const duration = { type: 'string', format: 'duration', 'x-message': 'must be a duration with a unit, e.g. 500ms, 30s, 5m, 1h, 14d' } as const;
const size = { type: ['string', 'integer'], format: 'size', minimum: 0 } as const;
// A TCP port, 0 (any free one) to 65535: five digits alone would let 99999 through to listen(), whose
// error names no key.
const PORT = '(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})';
const listen = {
  type: 'string',
  pattern: `^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]*):${PORT}$`,
  'x-message': 'must be host:port with a port from 0 to 65535, e.g. 0.0.0.0:8080 or 127.0.0.1:9090',
} as const;
const httpUrl = {
  type: 'string',
  pattern: '^https?://[^\\s/]+',
  'x-message': 'must be a URL with its scheme: https://host[:port] (or http:// for plain HTTP)',
} as const;
const tls = {
  type: 'object',
  additionalProperties: false,
  required: ['cert', 'key'],
  properties: { cert: str, key: str },
} as const;

/** The configuration schema. */
export const configSchema = {
  $id: 'https://pushgate.dev/schemas/config.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    server: {
      type: 'object',
      additionalProperties: false,
      properties: { listen, bodyLimit: size, readTimeout: duration, publicUrl: httpUrl },
    },
    metrics: { type: 'object', additionalProperties: false, properties: { listen, repositoryDepth: { type: 'integer', minimum: 0, maximum: 32 } } },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] } },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: {
          type: 'string',
          pattern: '^(sqlite:.+|postgres(ql)?://.+)$',
          'x-message': 'must be sqlite:PATH or a postgres:// URL',
        },
        connectTimeout: duration,
      },
    },
    vulndb: {
      type: 'object',
      additionalProperties: false,
      properties: {
        path: str,
        sources: { type: 'array', items: str },
        ecosystems: { type: 'array', items: str },
        updateInterval: duration,
        nvdApiKey: str,
      },
    },
    scan: {
      type: 'object',
      additionalProperties: false,
      properties: {
        workers: { type: 'integer', minimum: 1, maximum: 64 },
        tmpDir: str,
        tmpDirLimit: size,
        maxManifestSize: size,
        deadline: duration,
        limits: {
          type: 'object',
          additionalProperties: false,
          properties: {
            layers: { type: 'integer', minimum: 1 },
            manifestsPerIndex: { type: 'integer', minimum: 1 },
            entriesPerLayer: { type: 'integer', minimum: 1 },
            layerSize: size,
            ratio: { type: 'integer', minimum: 2 },
            lockFileSize: size,
            packageDbSize: size,
          },
        },
      },
    },
    registries: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'url'],
        properties: {
          name: {
            type: 'string',
            pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
            'x-message': 'must be a name of letters, digits, ".", "_" and "-"',
          },
          url: httpUrl,
          aliases: { type: 'array', items: str },
          type: { enum: ['distribution', 'harbor'] },
          insecure: { type: 'boolean' },
          auth: {
            type: 'object',
            additionalProperties: false,
            properties: { username: str, password: { type: 'string' }, dockerConfig: str, token: str, realms: { type: 'array', items: httpUrl } },
          },
          ca: str,
          clientCert: str,
          clientKey: str,
          webhook: { type: 'object', additionalProperties: false, properties: { token: str, previousTokens: { type: 'array', items: str } } },
          quarantine: {
            type: 'object',
            additionalProperties: false,
            properties: { repositoryPrefix: str, project: str, label: str, remove: { enum: ['artifact', 'tag'] }, retention: duration },
          },
          concurrency: { type: 'integer', minimum: 1, maximum: 256 },
          timeout: duration,
        },
      },
    },
    policy: str,
    api: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tokens: { type: 'array', items: str },
        jwt: {
          type: 'object',
          additionalProperties: false,
          properties: { secret: str, publicKey: str, issuer: str, audience: str },
        },
      },
    },
    admission: {
      type: 'object',
      additionalProperties: false,
      properties: {
        listen,
        tls,
        namespaces: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['match', 'unknown'],
            properties: { match: str, unknown: { enum: ['deny', 'allow', 'scan'] } },
          },
        },
        clientCA: str,
        clientNames: { type: 'array', items: str },
        allowUnauthenticated: { type: 'boolean' },
        standingWorkloads: { type: 'boolean' },
        cluster: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[\\x21-\\x7e]+$' },
        workloadRetention: duration,
        breakGlass: {
          type: 'object',
          additionalProperties: false,
          properties: { namespaces: { type: 'array', items: str }, groups: { type: 'array', items: str }, users: { type: 'array', items: str } },
        },
        scanTriggers: {
          type: 'object',
          additionalProperties: false,
          properties: {
            maxPerReview: { type: 'integer', minimum: 0, maximum: 10000 },
            ratePerSecond: { type: 'number', minimum: 0 },
            burst: { type: 'integer', minimum: 0 },
          },
        },
        maxImagesPerReview: { type: 'integer', minimum: 1 },
        unguarded: { enum: ['allow', 'deny', 'warn'] },
        unpinnedTags: { enum: ['deny', 'warn', 'allow'] },
        exemptions: {
          type: 'object',
          additionalProperties: false,
          properties: { namespaces: { type: 'array', items: str }, images: { type: 'array', items: str } },
        },
        digestCacheTtl: duration,
        signatures: {
          type: 'object',
          additionalProperties: false,
          properties: { trustedRoot: str, cacheTtl: duration, unsignedRecheck: duration },
        },
      },
    },
    proxy: {
      type: 'object',
      additionalProperties: false,
      properties: {
        listen,
        upstream: httpUrl,
        tls,
        timeout: duration,
        onTimeout: { enum: ['allow', 'reject'] },
        onError: { enum: ['allow', 'reject'] },
        bodyTimeout: duration,
        maxHeldManifests: { type: 'integer', minimum: 1, maximum: 10_000 },
      },
    },
    queue: { type: 'object', additionalProperties: false, properties: { maxAttempts: { type: 'integer', minimum: 1, maximum: 1000 }, registryProbeInterval: duration, eventLease: duration, outboxLease: duration } },
    enforcement: { type: 'object', additionalProperties: false, properties: { untaggedGrace: duration } },
    vex: {
      type: 'object',
      additionalProperties: false,
      properties: { paths: { type: 'array', items: str } },
    },
    publish: {
      type: 'object',
      additionalProperties: false,
      properties: {
        referrers: {
          type: 'object',
          additionalProperties: false,
          properties: { enabled: { type: 'boolean' }, signingKey: str, retryInterval: duration },
        },
      },
    },
    harborAdapter: {
      type: 'object',
      additionalProperties: false,
      properties: { tokens: { type: 'array', items: str } },
    },
    reconcile: { type: 'object', additionalProperties: false, properties: { interval: duration } },
    baseImages: {
      type: 'object',
      additionalProperties: false,
      properties: {
        repositories: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['registry', 'repositories'],
            properties: {
              registry: { type: 'string', minLength: 1 },
              repositories: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, pattern: '^[a-z0-9*?{}\\[\\]!,._/-]+$' } },
            },
          },
        },
        refreshInterval: duration,
      },
    },
    notify: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: httpUrl,
          format: { enum: ['json', 'slack'] },
          events: { type: 'array', items: { enum: ['quarantine', 'reject', 'new-findings'] }, minItems: 1 },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
  },
} as const;
