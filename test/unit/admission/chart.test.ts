/**
 * charts/pushgate without helm or an API server (neither can run here): the templates are rendered
 * with test/unit/admission/helm-render.ts (the Go text/template + sprig subset the chart uses, failing on
 * anything else), values.yaml is validated against values.schema.json, and the rendered objects are
 * checked for the fields issue 8 asks for. The dashboard and alert rules may name only metrics that
 * src/metrics defines.
 */
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import YAML from 'yaml';
import { ROOT } from '../../helpers/lab.js';
import { renderChart, type RenderedFile } from './helm-render.js';
import { Metrics } from '../../../src/metrics/index.js';
import { extractImages } from '../../../src/admission/images.js';
import { parseConfigText } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';

const CHART = path.join(ROOT, 'charts', 'pushgate');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function objects(files: RenderedFile[]): Json[] {
  return files.flatMap((f) => f.docs);
}
function one(objs: Json[], kind: string, name?: string): Json {
  const found = objs.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).to.have.length(1);
  return found[0];
}

const definedMetrics = new Set(new Metrics({ defaultMetrics: false }).registry.getMetricsAsArray().map((m) => m.name));
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bpushgate_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

describe('charts/pushgate', function () {
  this.timeout(60_000);
  let defaults: Json[];
  before(() => {
    defaults = objects(renderChart(CHART));
  });

  describe('values', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(CHART, 'values.schema.json'), 'utf8'));
    const values = YAML.parse(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

    it('values.yaml is valid against values.schema.json', () => {
      expect(validate(values), JSON.stringify(validate.errors)).to.equal(true);
    });

    it('the schema refuses several replicas with SQLite, unknown keys and bad enums', () => {
      expect(validate({ ...values, replicaCount: 2 })).to.equal(false);
      expect(validate({ ...values, replicaCount: 3, store: { ...values.store, type: 'postgres' } })).to.equal(true);
      expect(validate({ ...values, admission: { ...values.admission, failurePolicy: 'Maybe' } })).to.equal(false);
      expect(validate({ ...values, admission: { ...values.admission, timeoutSeconds: 31 } })).to.equal(false);
      expect(validate({ ...values, replicas: 1 })).to.equal(false);
      expect(validate({ ...values, config: { ...values.config, admission: { ...values.config.admission, unguarded: 'maybe' } } })).to.equal(false);
      expect(validate({ ...values, config: { ...values.config, admission: { ...values.config.admission, unpinnedTags: 'maybe' } } })).to.equal(false);
    });
  });

  describe('default render', () => {
    it('renders only well-formed objects, each with apiVersion, kind and a name', () => {
      expect(defaults.length).to.be.greaterThan(8);
      for (const o of defaults) {
        expect(o.apiVersion, JSON.stringify(o).slice(0, 80)).to.be.a('string');
        expect(o.kind).to.be.a('string');
        expect(o.metadata.name).to.match(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      }
      const kinds = defaults.map((o) => o.kind).sort();
      expect(kinds).to.include.members(['ConfigMap', 'Deployment', 'MutatingWebhookConfiguration', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Secret', 'Service', 'ServiceAccount', 'ValidatingWebhookConfiguration']);
    });

    it('runs one non-root replica with a read-only root filesystem on the SQLite PVC, with probes', () => {
      const d = one(defaults, 'Deployment');
      expect(d.spec.replicas).to.equal(1);
      expect(d.spec.strategy.type).to.equal('Recreate');
      const pod = d.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).to.equal(true);
      expect(pod.securityContext.runAsUser).to.equal(10001);
      const c = pod.containers[0];
      expect(c.securityContext).to.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(c.securityContext.capabilities.drop).to.deep.equal(['ALL']);
      expect(c.livenessProbe.httpGet.path).to.equal('/healthz');
      expect(c.readinessProbe.httpGet.path).to.equal('/readyz');
      expect(c.ports.map((p: Json) => p.containerPort)).to.deep.equal([8080, 8443]);
      const vols = Object.fromEntries(pod.volumes.map((v: Json) => [v.name, v]));
      expect(vols.data.persistentVolumeClaim.claimName).to.equal(one(defaults, 'PersistentVolumeClaim').metadata.name);
      expect(vols.spill.emptyDir.sizeLimit).to.equal('4Gi');
      expect(vols.config.configMap.name).to.equal(one(defaults, 'ConfigMap', 'pushgate').metadata.name);
      // Every writable path is a volume (read-only root).
      expect(c.volumeMounts.map((m: Json) => m.mountPath)).to.include.members(['/data', '/spill', '/tmp']);
      expect(c.envFrom[0].secretRef.name).to.equal('pushgate');
      expect(one(defaults, 'PodDisruptionBudget').spec).to.deep.include({ maxUnavailable: 1 });
    });

    it('the config file parses and points at the mounted TLS pair and the admission port', () => {
      const cm = one(defaults, 'ConfigMap', 'pushgate');
      const cfg = YAML.parse(cm.data['pushgate.yaml']);
      expect(cfg.store.url).to.equal('sqlite:/data/pushgate.db');
      expect(cfg.admission.listen).to.equal('0.0.0.0:8443');
      expect(cfg.admission.namespaces).to.deep.equal([{ match: '*', unknown: 'deny' }]);
      const d = one(defaults, 'Deployment');
      const tlsMount = d.spec.template.spec.containers[0].volumeMounts.find((m: Json) => m.name === 'admission-tls');
      expect(path.dirname(cfg.admission.tls.cert)).to.equal(tlsMount.mountPath);
      expect(path.dirname(cfg.admission.tls.key)).to.equal(tlsMount.mountPath);
      expect(cfg.scan.tmpDir).to.equal('/spill');
      // The rendered file is a valid pushgate config (the real loader: unknown keys, units, enums).
      // The loader checks that the TLS files exist: point the mount directory at a temp dir holding them.
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-chart-'));
      fs.writeFileSync(path.join(tmp, 'tls.crt'), 'x');
      fs.writeFileSync(path.join(tmp, 'tls.key'), 'x');
      fs.writeFileSync(path.join(tmp, 'ca.crt'), 'x');
      const loaded = parseConfigText(cm.data['pushgate.yaml'].replaceAll(`${tlsMount.mountPath}/`, `${tmp}/`).replaceAll('/etc/pushgate-client-ca/', `${tmp}/`), 'pushgate.yaml', {});
      fs.rmSync(tmp, { recursive: true, force: true });
      expect(loaded.admission.tls).to.deep.equal({ cert: path.join(tmp, 'tls.crt'), key: path.join(tmp, 'tls.key') });
      // Callers are authenticated by the client CA; break-glass is off until configured.
      expect(loaded.admission.clientCA).to.equal(path.join(tmp, 'ca.crt'));
      expect(loaded.admission.allowUnauthenticated).to.equal(false);
      expect(loaded.admission.clientNames).to.deep.equal(['pushgate-kube-apiserver']);
      expect(loaded.admission.breakGlass).to.deep.equal({ namespaces: [], groups: [], users: [] });
      expect(loaded.admission.unguarded).to.equal('warn');
      expect(loaded.admission.digestCacheTtlMs).to.equal(30_000);
      // pushgate's spill cap stays below the emptyDir's sizeLimit (else the kubelet evicts first).
      const spill = d.spec.template.spec.volumes.find((v: Json) => v.name === 'spill').emptyDir.sizeLimit;
      expect(loaded.scan.tmpDirLimitBytes).to.be.below(Number(/^(\d+)Gi$/.exec(spill)![1]) * 2 ** 30);
    });

    it('declares both webhooks with explicit policies, v1 reviews, NoneOnDryRun and the deadlock-avoiding namespaceSelector', () => {
      const v = one(defaults, 'ValidatingWebhookConfiguration');
      const m = one(defaults, 'MutatingWebhookConfiguration');
      for (const [cfg, p, fp] of [[v, '/admission/validate', 'Fail'], [m, '/admission/mutate', 'Ignore']] as const) {
        expect(cfg.webhooks).to.have.length(1);
        const w = cfg.webhooks[0];
        expect(w.admissionReviewVersions).to.deep.equal(['v1']);
        expect(w.sideEffects).to.equal('NoneOnDryRun');
        expect(w.failurePolicy).to.equal(fp);
        expect(w.timeoutSeconds).to.be.within(1, 10);
        expect(w.clientConfig.service).to.deep.include({ name: 'pushgate', namespace: 'pushgate', path: p, port: 443 });
        const sel = w.namespaceSelector.matchExpressions.find((e: Json) => e.key === 'kubernetes.io/metadata.name');
        expect(sel.operator).to.equal('NotIn');
        expect(sel.values).to.include.members(['kube-system', 'pushgate']);
        expect(w.matchConditions[0].expression).to.contain('system:serviceaccount:pushgate:pushgate');
        // Every kind admission reads images from is routed to it, and pods/ephemeralcontainers too.
        const resources = w.rules.flatMap((r: Json) => r.resources);
        expect(resources).to.include.members(['pods', 'pods/ephemeralcontainers', 'replicationcontrollers', 'podtemplates', 'deployments', 'statefulsets', 'daemonsets', 'replicasets', 'jobs', 'cronjobs']);
        for (const r of w.rules) expect(r.operations).to.deep.equal(['CREATE', 'UPDATE']);
      }
      expect(m.webhooks[0].reinvocationPolicy).to.equal('IfNeeded');
      // The kinds in the rules are exactly those extractImages understands.
      for (const k of ['Pod', 'PodTemplate', 'ReplicationController', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']) {
        const spec = { containers: [{ image: 'x' }] };
        const obj = k === 'Pod' ? { spec } : k === 'PodTemplate' ? { template: { spec } } : k === 'CronJob' ? { spec: { jobTemplate: { spec: { template: { spec } } } } } : { spec: { template: { spec } } };
        expect(extractImages(k, obj), k).to.have.length(1);
      }
    });

    it('refuses the default namespace, which the webhooks would leave unchecked; any other release namespace is excluded exactly', () => {
      // helm installs into `default` when --namespace is omitted; the namespaceSelector leaves the release
      // namespace out, so every pod a tenant creates there would start unchecked.
      expect(() => renderChart(CHART, {}, { name: 'pushgate', namespace: 'default' })).to.throw(/namespace of its own/);
      expect(() => renderChart(CHART, { admission: { enabled: false } }, { name: 'pushgate', namespace: 'default' }), 'no webhooks, nothing left unchecked').not.to.throw();
      fc.assert(
        fc.property(fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/), fc.array(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/), { maxLength: 3 }), (ns, extra) => {
          fc.pre(ns !== 'default');
          // Certificates from cert-manager and an existing client CA: no key generation per run (the selector does not depend on them).
          const pki = { tls: { mode: 'certManager' }, clientAuth: { enabled: true, mode: 'secret', secretName: 'apiserver-ca' } };
          const objs = objects(renderChart(CHART, { admission: { ...pki, excludeNamespaces: extra } }, { name: 'pushgate', namespace: ns }));
          for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
            const w = one(objs, kind).webhooks[0];
            const sel = w.namespaceSelector.matchExpressions.filter((e: Json) => e.key === 'kubernetes.io/metadata.name');
            expect(sel).to.have.length(1);
            expect(sel[0].operator).to.equal('NotIn');
            expect(sel[0].values).to.deep.equal(['kube-system', ns, ...extra]);
            expect(w.objectSelector, 'no object label a pod author sets decides').to.equal(undefined);
          }
        }),
        { numRuns: 25 },
      );
    });

    it('the chart-generated CA in caBundle signs the serving certificate for the Service name', () => {
      const secret = defaults.find((o) => o.kind === 'Secret' && o.type === 'kubernetes.io/tls');
      const crt = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
      const ca = new X509Certificate(Buffer.from(one(defaults, 'ValidatingWebhookConfiguration').webhooks[0].clientConfig.caBundle, 'base64'));
      expect(crt.verify(ca.publicKey)).to.equal(true);
      expect(crt.checkIssued(ca)).to.equal(true);
      expect(crt.subjectAltName).to.contain('DNS:pushgate.pushgate.svc');
      expect(one(defaults, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle).to.equal(secret.data['ca.crt']);
      const d = one(defaults, 'Deployment');
      expect(d.spec.template.spec.volumes.find((v: Json) => v.name === 'admission-tls').secret.secretName).to.equal(secret.metadata.name);
    });

    it('ships the Grafana dashboard in a ConfigMap; its queries name only metrics src/metrics defines', () => {
      const cm = one(defaults, 'ConfigMap', 'pushgate-dashboard');
      expect(cm.metadata.labels.grafana_dashboard).to.equal('1');
      const dash = JSON.parse(cm.data['pushgate.json']);
      const exprs: string[] = dash.panels.flatMap((p: Json) => (p.targets ?? []).map((t: Json) => t.expr));
      const used = new Set(exprs.flatMap(metricNames));
      for (const n of used) expect(definedMetrics.has(n), n).to.equal(true);
      for (const n of ['pushgate_events_received_total', 'pushgate_verdicts_total', 'pushgate_blocked_pushes_total', 'pushgate_scan_duration_seconds', 'pushgate_admission_requests_total', 'pushgate_admission_duration_seconds']) {
        expect(used.has(n), n).to.equal(true);
      }
      expect(exprs.join(' ')).to.contain('sum by (registry, repository)');
      expect(exprs.join(' ')).to.contain('sum by (rule)');
      // Continuous monitoring: images by decision (max over replicas reading one store) and new findings.
      const monitoring = dash.panels.filter((p: Json) => (p.targets ?? []).some((t: Json) => /pushgate_images_by_decision|pushgate_new_findings_total/.test(t.expr)));
      expect(monitoring.map((p: Json) => p.title)).to.deep.equal(['Images by decision', 'New findings in stored images']);
      expect(exprs).to.include('max by (registry, decision) (pushgate_images_by_decision)');
      // Dropped workload usage records (the store was unwritable and the buffer full) have their own panel.
      expect(dash.panels.filter((p: Json) => (p.targets ?? []).some((t: Json) => /pushgate_workload_usage_dropped_total/.test(t.expr))).map((p: Json) => p.title)).to.deep.equal(['Workload usage records dropped']);
      // Panels do not overlap on the grid.
      const cells = new Set<string>();
      for (const p of dash.panels) {
        for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
          for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
            expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).to.equal(false);
            cells.add(`${x},${y}`);
          }
        }
      }
    });
  });

  describe('options', () => {
    it('PostgreSQL store: several replicas, rolling updates, PDB minAvailable 1, URL in the Secret', () => {
      const objs = objects(renderChart(CHART, { store: { type: 'postgres', postgres: { url: 'postgres://pg:pw@db:5432/pushgate' } }, replicaCount: 3 }));
      const d = one(objs, 'Deployment');
      expect(d.spec.replicas).to.equal(3);
      expect(d.spec.strategy.type).to.equal('RollingUpdate');
      expect(one(objs, 'PodDisruptionBudget').spec.minAvailable).to.equal(1);
      // spread over nodes by default; a given affinity replaces it; one replica gets none
      const anti = d.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
      expect(anti.topologyKey).to.equal('kubernetes.io/hostname');
      expect(anti.labelSelector.matchLabels).to.deep.equal(d.spec.selector.matchLabels);
      const own = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['gate'] }] }] } } };
      expect(one(objects(renderChart(CHART, { store: { type: 'postgres', postgres: { url: 'postgres://pg@db/p' } }, replicaCount: 3, affinity: own })), 'Deployment').spec.template.spec.affinity).to.deep.equal(own);
      expect(one(objects(renderChart(CHART, {})), 'Deployment').spec.template.spec.affinity).to.equal(undefined);
      expect(Buffer.from(one(objs, 'Secret', 'pushgate').data.PUSHGATE_STORE_URL, 'base64').toString()).to.equal('postgres://pg:pw@db:5432/pushgate');
      const text = one(objs, 'ConfigMap', 'pushgate').data['pushgate.yaml'];
      expect(YAML.parse(text).store.url).to.equal('${PUSHGATE_STORE_URL}');
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-chart-'));
      fs.writeFileSync(path.join(tmp, 'tls.crt'), 'x');
      fs.writeFileSync(path.join(tmp, 'tls.key'), 'x');
      fs.writeFileSync(path.join(tmp, 'ca.crt'), 'x');
      const loaded = parseConfigText(text.replaceAll('/etc/pushgate-tls/', `${tmp}/`).replaceAll('/etc/pushgate-client-ca/', `${tmp}/`), 'pushgate.yaml', { PUSHGATE_STORE_URL: 'postgres://pg@db:5432/pushgate' });
      fs.rmSync(tmp, { recursive: true, force: true });
      expect(loaded.store.url).to.equal('postgres://pg@db:5432/pushgate');
    });

    it('refuses several replicas on SQLite and postgres without a URL', () => {
      // helm checks the schema first, which refuses it; the template's own check stays for a chart
      // installed with --skip-schema-validation
      expect(() => renderChart(CHART, { replicaCount: 2 })).to.throw(/values don't meet the schema.*replicaCount/);
      expect(() => renderChart(CHART, { store: { type: 'postgres' } })).to.throw(/store.postgres.url/);
    });

    it('cert-manager: Certificate for the Service names, CA injected by annotation, no inline caBundle', () => {
      const objs = objects(renderChart(CHART, { admission: { tls: { mode: 'certManager' } } }));
      const certs = objs.filter((o) => o.kind === 'Certificate');
      const serving = certs.find((c) => c.metadata.name === 'pushgate-admission');
      expect(serving.spec.dnsNames).to.include('pushgate.pushgate.svc');
      expect(serving.spec.secretName).to.equal('pushgate-admission-tls');
      expect(objs.filter((o) => o.kind === 'Issuer')).to.have.length(2);
      const v = one(objs, 'ValidatingWebhookConfiguration');
      expect(v.metadata.annotations['cert-manager.io/inject-ca-from']).to.equal('pushgate/pushgate-admission');
      expect(v.webhooks[0].clientConfig.caBundle).to.equal(undefined);
      expect(objs.some((o) => o.kind === 'Secret' && o.type === 'kubernetes.io/tls')).to.equal(false);
    });

    it('ServiceMonitor and PrometheusRule: alerts on blocked pushes, scan failures, stale data, admission errors and latency, on defined metrics', () => {
      const objs = objects(renderChart(CHART, { metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } } }));
      expect(one(objs, 'ServiceMonitor').spec.endpoints[0]).to.deep.include({ port: 'http', path: '/metrics' });
      const rules = one(objs, 'PrometheusRule').spec.groups[0].rules;
      expect(rules.map((r: Json) => r.alert)).to.include.members(['PushgateBlockedPushes', 'PushgateScanFailures', 'PushgateVulnDbStale', 'PushgateAdmissionErrors', 'PushgateAdmissionLatencyHigh']);
      for (const r of rules) for (const n of metricNames(r.expr)) expect(definedMetrics.has(n), `${r.alert}: ${n}`).to.equal(true);
      expect(rules.find((r: Json) => r.alert === 'PushgateVulnDbStale').expr).to.equal('pushgate_vulndb_age_seconds{source="osv"} > 172800');
      // Newly failing images: blocked images by registry grew while monitor passes found new findings.
      const newly = rules.find((r: Json) => r.alert === 'PushgateNewlyFailingImages');
      expect(metricNames(newly.expr).sort()).to.deep.equal(['pushgate_images_by_decision', 'pushgate_images_by_decision', 'pushgate_new_findings_total']);
      expect(newly.expr).to.contain('decision=~"quarantine|reject"');
      expect(newly.annotations.summary).to.contain('{{ $labels.registry }}');
      expect(rules.find((r: Json) => r.alert === 'PushgateWorkloadUsageDropped')?.expr).to.equal('sum(increase(pushgate_workload_usage_dropped_total[15m])) > 0');
      // Prometheus templating survives Helm's.
      expect(rules[0].annotations.summary).to.contain('{{ $labels.repository }}');
    });

    it('client authentication (default generate): a CA and an API server client certificate, its kubeconfig and AdmissionConfiguration; only the CA is mounted', () => {
      const secret = one(defaults, 'Secret', 'pushgate-admission-client');
      const file = (k: string) => Buffer.from(secret.data[k], 'base64');
      const ca = new X509Certificate(file('ca.crt'));
      const crt = new X509Certificate(file('tls.crt'));
      expect(crt.checkIssued(ca)).to.equal(true);
      expect(crt.verify(ca.publicKey)).to.equal(true);
      expect(crt.subject).to.equal('CN=pushgate-kube-apiserver');
      expect(crt.keyUsage ?? []).to.include('1.3.6.1.5.5.7.3.2'); // clientAuth
      expect(secret.data['ca.key']).to.equal(undefined);
      // kubeConfigFile: the user entry is named after the webhook Service (port 443 → no port).
      const kc = YAML.parse(file('kubeconfig.yaml').toString());
      expect(kc.kind).to.equal('Config');
      expect(kc.users).to.have.length(1);
      expect(kc.users[0].name).to.equal(one(defaults, 'ValidatingWebhookConfiguration').webhooks[0].clientConfig.service.name + '.pushgate.svc');
      expect(kc.users[0].user['client-certificate-data']).to.equal(secret.data['tls.crt']);
      expect(kc.users[0].user['client-key-data']).to.equal(secret.data['tls.key']);
      const ac = YAML.parse(file('admission-configuration.yaml').toString());
      expect(ac).to.deep.include({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AdmissionConfiguration' });
      expect(ac.plugins.map((p: Json) => p.name)).to.deep.equal(['ValidatingAdmissionWebhook', 'MutatingAdmissionWebhook']);
      for (const p of ac.plugins) expect(p.configuration).to.deep.equal({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'WebhookAdmissionConfiguration', kubeConfigFile: '/etc/kubernetes/pushgate/kubeconfig.yaml' });
      const pod = one(defaults, 'Deployment').spec.template.spec;
      const vol = pod.volumes.find((v: Json) => v.name === 'admission-client-ca');
      expect(vol.secret).to.deep.equal({ secretName: 'pushgate-admission-client', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
      const mount = pod.containers[0].volumeMounts.find((m: Json) => m.name === 'admission-client-ca');
      const cfg = YAML.parse(one(defaults, 'ConfigMap', 'pushgate').data['pushgate.yaml']);
      expect(cfg.admission.clientCA).to.equal(`${mount.mountPath}/ca.crt`);
    });

    it('client authentication options: another Service port in the kubeconfig name, an existing CA Secret, or off (allowUnauthenticated)', () => {
      const port = objects(renderChart(CHART, { service: { admissionPort: 8443 } }));
      const kc = YAML.parse(Buffer.from(one(port, 'Secret', 'pushgate-admission-client').data['kubeconfig.yaml'], 'base64').toString());
      expect(kc.users[0].name).to.equal('pushgate.pushgate.svc:8443');
      expect(() => renderChart(CHART, { admission: { clientAuth: { enabled: true, mode: 'secret' } } })).to.throw(/admission.clientAuth.secretName/);
      const own = objects(renderChart(CHART, { admission: { clientAuth: { enabled: true, mode: 'secret', secretName: 'apiserver-ca', allowedNames: ['kube-apiserver'] } } }));
      expect(own.some((o) => o.kind === 'Secret' && o.metadata.name === 'pushgate-admission-client')).to.equal(false);
      expect(one(own, 'Deployment').spec.template.spec.volumes.find((v: Json) => v.name === 'admission-client-ca').secret.secretName).to.equal('apiserver-ca');
      expect(YAML.parse(one(own, 'ConfigMap', 'pushgate').data['pushgate.yaml']).admission.clientNames).to.deep.equal(['kube-apiserver']);
      const off = objects(renderChart(CHART, { admission: { clientAuth: { enabled: false, mode: 'generate' } } }));
      const text = one(off, 'ConfigMap', 'pushgate').data['pushgate.yaml'];
      const cfg = YAML.parse(text);
      expect(cfg.admission.allowUnauthenticated).to.equal(true);
      expect(cfg.admission.clientCA).to.equal(undefined);
      expect(off.some((o) => o.kind === 'Secret' && o.metadata.name === 'pushgate-admission-client')).to.equal(false);
      expect(one(off, 'Deployment').spec.template.spec.volumes.some((v: Json) => v.name === 'admission-client-ca')).to.equal(false);
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-chart-'));
      fs.writeFileSync(path.join(tmp, 'tls.crt'), 'x');
      fs.writeFileSync(path.join(tmp, 'tls.key'), 'x');
      const loaded = parseConfigText(text.replaceAll('/etc/pushgate-tls/', `${tmp}/`), 'pushgate.yaml', {});
      fs.rmSync(tmp, { recursive: true, force: true });
      expect(loaded.admission.allowUnauthenticated).to.equal(true);
    });

    it('property: every key of pushgate\'s configuration is either rendered as given or refused by the schema as the chart\'s own', () => {
      const cfgOf = (objs: Json[]) => YAML.parse(one(objs, 'ConfigMap', 'pushgate').data['pushgate.yaml']);
      // what the chart sets from its other values (values.schema.json says so for each)
      const owned = new Set(['store', 'policy', 'proxy', 'server.listen', 'metrics.listen', 'vulndb.path', 'scan.tmpDir',
        'admission.listen', 'admission.tls', 'admission.clientCA', 'admission.clientNames', 'admission.allowUnauthenticated']);
      // every key pushgate reads, top level and one level down: a key added to pushgate later is covered too
      const keys: string[] = [];
      for (const [k, v] of Object.entries(configSchema.properties as Record<string, { properties?: object }>)) {
        keys.push(k);
        for (const sub of Object.keys(v.properties ?? {})) keys.push(`${k}.${sub}`);
      }
      const scalar = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean());
      fc.assert(fc.property(fc.constantFrom(...keys), fc.oneof(scalar, fc.dictionary(fc.constantFrom('a', 'b'), scalar, { minKeys: 1 })), (key, value) => {
        const [top, sub] = key.split('.');
        // sections the chart renders from a list of its own (registries, notify, api tokens) take lists
        if (['registries', 'notify'].includes(top) && !sub) return;
        const overrides = { config: sub ? { [top]: { [sub]: value } } : { [top]: value } };
        const isOwned = owned.has(key) || owned.has(top);
        let objs: Json[] | undefined;
        try {
          objs = objects(renderChart(CHART, overrides));
        } catch (err) {
          const m = /values don't meet the schema: (.*)$/s.exec(String((err as Error).message));
          if (!m) throw err;
          const errors = JSON.parse(m[1]) as { instancePath: string; keyword: string; params: { additionalProperty?: string } }[];
          const at = `/config/${key.replace('.', '/')}`;
          // the key itself (or its whole section) refused: as the chart's own (`not`), or as unknown where it sits
          const keyRefused = errors.some((e) => (e.keyword === 'not' && (e.instancePath === at || e.instancePath === `/config/${top}`))
            || (e.keyword === 'additionalProperties' && `${e.instancePath}/${e.params.additionalProperty}` === at));
          expect(keyRefused, `${key}: ${m[1]}`).to.equal(isOwned);
          // else a section the schema types (log.level, admission.unguarded, …) refused the generated value
          return;
        }
        expect(isOwned, `${key} is the chart's own, yet rendered`).to.equal(false);
        const cfg = cfgOf(objs);
        const got = sub ? cfg[top]?.[sub] : cfg[top];
        // a section given as a whole map merges with the chart's defaults for it
        if (!sub && value && typeof value === 'object' && got && typeof got === 'object') expect(got).to.deep.include(value as object);
        else expect(got, key).to.deep.equal(value);
      }), { numRuns: 300 });
    });

    it('property: a credential written literally anywhere in config is refused (it would sit in the ConfigMap); a ${VAR} reference renders as written', () => {
      const places: Array<[string, (v: string) => Record<string, unknown>]> = [
        ['registries[].auth.password', (v) => ({ registries: [{ name: 'r', url: 'https://r.example.test', auth: { username: 'u', password: v } }] })],
        ['registries[].webhook.token', (v) => ({ registries: [{ name: 'r', url: 'https://r.example.test', webhook: { token: v } }] })],
        ['registries[].webhook.previousTokens[]', (v) => ({ registries: [{ name: 'r', url: 'https://r.example.test', webhook: { token: '${T}', previousTokens: ['${OLD}', v] } }] })],
        ['api.tokens[]', (v) => ({ api: { tokens: [v] } })],
        ['api.jwt.secret', (v) => ({ api: { jwt: { secret: v } } })],
        ['vulndb.nvdApiKey', (v) => ({ vulndb: { nvdApiKey: v } })],
        ['notify[].token (any depth)', (v) => ({ notify: [{ url: 'https://hooks.example.test/x', token: v }] })],
      ];
      const envName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);
      const literal = fc.string({ minLength: 1, maxLength: 40 }).filter((v) => !/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(v));
      fc.assert(fc.property(fc.constantFrom(...places), fc.oneof(literal, envName.map((n) => `\${${n}:-fallback}`)), envName, ([where, at], bad, name) => {
        expect(() => renderChart(CHART, { config: at(bad) }), `${where}: ${JSON.stringify(bad)}`).to.throw(/values don't meet the schema/);
        const ok = objects(renderChart(CHART, { config: at(`\${${name}}`) }));
        expect(one(ok, 'ConfigMap', 'pushgate').data['pushgate.yaml'], where).to.include(`\${${name}}`);
      }), { numRuns: 60 });
    });

    it('the settings the READMEs name reach pushgate through the chart and load', () => {
      const objs = objects(renderChart(CHART, { admission: { workloads: true }, config: {
        server: { publicUrl: 'https://pushgate.example.test' },
        reconcile: { interval: '15m' },
        enforcement: { untaggedGrace: '2m' },
        scan: { deadline: '5m' },
        admission: { standingWorkloads: false },
      } }));
      const cm = one(objs, 'ConfigMap', 'pushgate');
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-chart-'));
      for (const f of ['tls.crt', 'tls.key', 'ca.crt']) fs.writeFileSync(path.join(tmp, f), 'x');
      const text = cm.data['pushgate.yaml'].replaceAll('/etc/pushgate-tls/', `${tmp}/`).replaceAll('/etc/pushgate-client-ca/', `${tmp}/`);
      const loaded = parseConfigText(text, 'pushgate.yaml', {});
      fs.rmSync(tmp, { recursive: true, force: true });
      expect(loaded.server.publicUrl).to.equal('https://pushgate.example.test');
      expect(loaded.server.listen).to.equal('0.0.0.0:8080');
      expect(loaded.admission.standingWorkloads).to.equal(false);
      expect(loaded.scan.tmpDir).to.equal('/spill');
      expect(loaded.scan.workers).to.equal(2);
      expect(YAML.parse(text).reconcile).to.deep.equal({ interval: '15m' });
      expect(YAML.parse(text).enforcement).to.deep.equal({ untaggedGrace: '2m' });
      expect(YAML.parse(text).scan.deadline).to.equal('5m');
    });

    it('standing workloads (newly failing images keep scaling) only while the webhook also judges workload kinds', () => {
      const cfgOf = (objs: Json[]) => YAML.parse(one(objs, 'ConfigMap', 'pushgate').data['pushgate.yaml']);
      expect(cfgOf(defaults).admission.standingWorkloads).to.equal(undefined);
      const podsOnly = objects(renderChart(CHART, { admission: { workloads: false } }));
      expect(cfgOf(podsOnly).admission.standingWorkloads).to.equal(false);
      const explicit = objects(renderChart(CHART, { admission: { workloads: false }, config: { admission: { standingWorkloads: true } } }));
      expect(cfgOf(explicit).admission.standingWorkloads).to.equal(true);
    });

    it('admission disabled: no webhooks, no TLS, no admission port', () => {
      const objs = objects(renderChart(CHART, { admission: { enabled: false } }));
      expect(objs.some((o) => /WebhookConfiguration$/.test(o.kind))).to.equal(false);
      expect(one(objs, 'Service').spec.ports.map((p: Json) => p.name)).to.deep.equal(['http']);
    });
  });

  it('the renderer fails on what it does not support (so the chart cannot outgrow the test)', () => {
    fs.mkdirSync(path.join(ROOT, '.cache'), { recursive: true });
    const dir = fs.mkdtempSync(path.join(ROOT, '.cache', 'chart-'));
    try {
      fs.mkdirSync(path.join(dir, 'templates'));
      fs.writeFileSync(path.join(dir, 'Chart.yaml'), 'name: x\nversion: 0.1.0\nappVersion: "1"\n');
      fs.writeFileSync(path.join(dir, 'values.yaml'), 'a: 1\n');
      fs.writeFileSync(path.join(dir, 'templates', 'x.yaml'), 'v: {{ .Values.a | upper }}\n');
      expect(() => renderChart(dir)).to.throw(/unsupported function "upper"/);
      fs.writeFileSync(path.join(dir, 'templates', 'x.yaml'), '{{ if .Values.a }}v: 1\n');
      expect(() => renderChart(dir)).to.throw(/missing \{\{end\}\}/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
