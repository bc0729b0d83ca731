/**
 * The built-in default policy (DESIGN.md §4): the text of config/policy.yaml, embedded so that the
 * built package does not depend on where that file is. test/unit/policy/default-policy.test.ts keeps
 * the two identical (`UPDATE_GOLDEN=1` rewrites this file from config/policy.yaml).
 */

/** The YAML text of config/policy.yaml. */
export const DEFAULT_POLICY_YAML = `# pushgate default policy (DESIGN.md §4). This file is what pushgate uses when no \`policy\` is configured:
# src/policy/default-policy.ts embeds the same text (a unit test keeps the two identical).
# Check a policy with \`pushgate config check FILE\`.
#
# The language (apiVersion pushgate.dev/v1, kind Policy):
#
#   spec.ruleSets.NAME       a named set of rules, with:
#     onIncomplete           reject | quarantine | warn | allow: what an incomplete scan (a blob that could not be
#                            read, no vulnerability database, …) gets. Default quarantine.
#     onUncovered            reject | quarantine | warn | allow: what an image gets whose packages of some ecosystem
#                            could not be matched against advisories (an \`ecosystem-uncovered\` diagnostic: none
#                            loaded, or an OS OSV does not publish, such as Amazon Linux; see docs/os-coverage.md).
#                            An exception with rules [uncovered-ecosystem] and ids [<ecosystem>] accepts one. Default warn.
#     unknownSeverity        ignore | negligible | low | medium | high | critical: how findings whose severity is
#                            \`unknown\` count in severity conditions. \`ignore\`: they never satisfy minSeverity
#                            (they are still reported). Default ignore.
#     excludeBase            true: drop findings, secrets and packages found in the base image's layers (like
#                            \`docker scan --exclude-base\`). Needs the base layers (scan input). Default false.
#     rules[]                name (lowercase, unique in the set), action (reject | quarantine | warn), optional
#                            excludeBase, and a \`match\` of exactly one kind:
#       vulnerability:       every condition given must hold (AND)
#         minSeverity        negligible | low | medium | high | critical (inclusive)
#         minCvss            0.0-10.0 (inclusive; findings without a CVSS score do not match)
#         fixAvailable       true: only findings with a fixed version; false: only findings without one
#         fixGracePeriod     duration (14d): only once the fix has been public this long (the advisory's
#                            published date stands for the fix date); implies a fix
#         minAge / maxAge    duration: advisory published at least / at most this long ago
#         ids                advisory ids; a finding matches by its id or any alias (CVE, GHSA, …)
#         ecosystems         OSV ecosystems (npm, Debian, Alpine, PyPI, …)
#         packages           package names or globs
#         kev                true: only findings whose CVE is in CISA's Known Exploited Vulnerabilities catalog
#                            (a \`kev:\` source must be loaded); false: only those that are not
#         epss               {min: 0-1, minPercentile: 0-1}: FIRST EPSS score / percentile at least this (an
#                            \`epss:\` source must be loaded; findings without a score do not match)
#       packages:            a denylist, a list of {ecosystem, name (glob), versions}: versions is a node-semver
#                            range for npm (">=3.3.6 <3.4.0") and exact versions for every other ecosystem
#       secret:              rules (secret rule ids or globs: private-key, aws-*), minSeverity
#       image:               exactly one check: runsAsRoot: true | maxAge: 90d | maxSize: 2GiB |
#                            requiredLabels: [..] | forbiddenPorts: [22, "23/tcp", "6000-6063/tcp"]
#       baseImage:           allowed: [{name: glob on the verified base's repository:tag (the label
#                                        org.opencontainers.image.base.name only where the author is trusted)},
#                                      {diffIDs: [the base's layer diffIDs, which the image must begin with]}]
#       eol:                 the OS release or a runtime (config Env NODE_VERSION, PYTHON_VERSION, …, or the
#                            runtime's package) is past end of regular security support (an \`eol:\` source of
#                            endoflife.date data must be loaded); allowExtendedSupport: true spares releases
#                            still under LTS/extended support; gracePeriod: how long after the end of the support
#                            the rule accepts (regular, or extended when allowed) it starts firing;
#                            kinds: [os, runtime]; products: endoflife.date names or globs (debian, nodejs)
#   spec.mappings[]          registry / repository / tag globs → ruleSet and mode (enforce | warn | audit);
#                            the first match wins; an omitted glob matches anything. \`registry\` is the configured
#                            registry name (or host:port for \`pushgate scan REF\`).
#     onNewFindings          notify | warn | quarantine | reject: what a re-judgement after a vulnerability
#                            database change (not a push) may do to an image it newly fails: notify (default)
#                            keeps the previous decision and notifies the new findings; warn: at most warn;
#                            quarantine: at most quarantine; reject: the new decision in full.
#     grace                  per severity word, a duration ({high: 7d}): new findings of that severity only
#                            warn this long (at most 3650d) before onNewFindings quarantine/reject is enforced.
#   spec.default             ruleSet, mode, onNewFindings and grace when no mapping matches.
#   spec.severity.prefer     order of a finding's severity sources: vendor (the OS vendor's word in the matched
#                            advisory: Ubuntu priority, Red Hat impact), advisory (its own CVSS or rating), nvd
#                            (NVD's score of its CVE), osv (another OSV record of the same CVE). Default
#                            [vendor, advisory, nvd, osv]; a source left out is not used.
#   spec.exceptions[]        reason, owner and expires (required; a date means through that day, UTC), scoped by
#                            ids, packages, repository (glob) and/or digest, optionally limited to rules. Expired
#                            exceptions stop applying and are listed in the verdict.
#
# Modes: enforce acts on the decision; warn records it and downgrades quarantine/reject to warn; audit
# records only (nothing is enforced and admission does not deny).
apiVersion: pushgate.dev/v1
kind: Policy
metadata:
  name: default
  description: Secrets are rejected, fixable high/critical vulnerabilities quarantined, root images warned.
spec:
  ruleSets:
    default:
      # A scan that could not read everything is not trusted.
      onIncomplete: quarantine
      # Packages nobody matched against advisories are named, not passed silently.
      onUncovered: warn
      # Findings without a severity are reported but do not block.
      unknownSeverity: ignore
      excludeBase: false
      rules:
        # Private keys, cloud keys and tokens: never let them reach a registry.
        - name: secrets
          action: reject
          match:
            secret: {}
        # Vulnerabilities someone can fix today by upgrading.
        - name: fixable-high-vulns
          action: quarantine
          match:
            vulnerability:
              minSeverity: high
              fixAvailable: true
        - name: runs-as-root
          action: warn
          match:
            image:
              runsAsRoot: true
        # More rule kinds, for your own policy:
        # - name: old-images
        #   action: warn
        #   match:
        #     image:
        #       maxAge: 180d
        # - name: denied-packages
        #   action: reject
        #   match:
        #     packages:
        #       - ecosystem: npm
        #         name: event-stream
        #         versions: ">=3.3.6 <4.0.0"
        # - name: approved-bases
        #   action: quarantine
        #   match:
        #     baseImage:
        #       allowed:
        #         - name: "docker.io/library/debian:*"
  mappings: []
  # mappings:
  #   - name: sandbox
  #     repository: "sandbox/**"
  #     ruleSet: default
  #     mode: audit
  default:
    ruleSet: default
    mode: enforce
  exceptions: []
  # exceptions:
  #   - name: legacy-adm-zip
  #     ids: [NSWG-NPM-458]
  #     repository: "legacy/*"
  #     registry: prod        # optional: only on this registries[].name (glob); default every registry
  #     reason: the archive path is never reached; replacement tracked in TICKET-123
  #     owner: platform-team@example.test
  #     expires: 2026-12-31
`;
