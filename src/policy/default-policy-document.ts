/**
 * The built-in default policy as the object its YAML text (default-policy.ts, config/policy.yaml)
 * reads as, so that `pushgate scan` compiles it without loading a YAML parser or a JSON schema.
 * test/unit/policy/compile.test.ts keeps it equal to the parsed text (`UPDATE_GOLDEN=1` rewrites it).
 */
import type { PolicyDocument } from './types.js';

/** config/policy.yaml, parsed. */
export const DEFAULT_POLICY_DOCUMENT = JSON.parse(`
{
  "apiVersion": "pushgate.dev/v1",
  "kind": "Policy",
  "metadata": {
    "name": "default",
    "description": "Secrets are rejected, fixable high/critical vulnerabilities quarantined, root images warned."
  },
  "spec": {
    "ruleSets": {
      "default": {
        "onIncomplete": "quarantine",
        "onUncovered": "warn",
        "unknownSeverity": "ignore",
        "excludeBase": false,
        "rules": [
          {
            "name": "secrets",
            "action": "reject",
            "match": {
              "secret": {}
            }
          },
          {
            "name": "fixable-high-vulns",
            "action": "quarantine",
            "match": {
              "vulnerability": {
                "minSeverity": "high",
                "fixAvailable": true
              }
            }
          },
          {
            "name": "runs-as-root",
            "action": "warn",
            "match": {
              "image": {
                "runsAsRoot": true
              }
            }
          }
        ]
      }
    },
    "mappings": [],
    "default": {
      "ruleSet": "default",
      "mode": "enforce"
    },
    "exceptions": []
  }
}
`) as PolicyDocument;
