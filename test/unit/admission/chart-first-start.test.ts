/**
 * The chart's first start is chosen deliberately: failurePolicy Fail with the namespaces the
 * cluster needs exempt, stated in values, README and NOTES; a pre-built vulnerability database can
 * be seeded by an init container that never overwrites one (rendered with helm-render.ts).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT } from '../../helpers/lab.js';
import { renderChart } from './helm-render.js';

const CHART = path.join(ROOT, 'charts', 'pushgate');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const deployment = (files: ReturnType<typeof renderChart>): Json => files.flatMap((f) => f.docs).find((o: Json) => o?.kind === 'Deployment');
/** NOTES.txt is not a manifest (helm-render renders manifests only): its text is checked as written. */
const NOTES = fs.readFileSync(path.join(CHART, 'templates', 'NOTES.txt'), 'utf8');

describe('charts/pushgate: first start', function () {
  this.timeout(60_000);

  it('the default is Fail, and values, README and NOTES say what happens during the first start', () => {
    const values = YAML.parse(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
    expect(values.admission.failurePolicy).to.equal('Fail');
    expect(values.vulndbSeed.enabled).to.equal(false);
    const raw = fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8');
    expect(raw).to.match(/first start/i);
    const readme = fs.readFileSync(path.join(CHART, 'README.md'), 'utf8');
    expect(readme).to.include('### First start').and.include('vulndbSeed').and.include('no endpoints');
    const files = renderChart(CHART);
    expect(NOTES).to.match(/First start: until pushgate is ready .*copied from vulndbSeed.*built from config\.vulndb\.sources/);
    const d = deployment(files);
    expect(d.spec.template.spec.initContainers).to.equal(undefined);
    expect(d.spec.template.spec.volumes.map((v: Json) => v.name)).to.not.include('vulndb-seed');
  });

  for (const volume of [{ persistentVolumeClaim: { claimName: 'seed', readOnly: true } }, { image: { reference: 'registry.example.test/pushgate/vulndb:1', pullPolicy: 'IfNotPresent' } }]) {
    it(`vulndbSeed from ${Object.keys(volume)[0]}: an init container copies the file only when /data has none`, () => {
      const files = renderChart(CHART, { vulndbSeed: { enabled: true, volume, file: 'db/vulndb.sqlite' } });
      const spec = deployment(files).spec.template.spec;
      const [init] = spec.initContainers;
      expect(init.name).to.equal('vulndb-seed');
      expect(init.args[0]).to.equal('test -s /data/vulndb.sqlite || { cp /seed/db/vulndb.sqlite /data/vulndb.sqlite.seed && mv /data/vulndb.sqlite.seed /data/vulndb.sqlite; }');
      expect(init.volumeMounts).to.deep.include({ name: 'vulndb-seed', mountPath: '/seed', readOnly: true });
      expect(init.securityContext.readOnlyRootFilesystem).to.equal(true);
      expect(spec.volumes.find((v: Json) => v.name === 'vulndb-seed')).to.deep.equal({ name: 'vulndb-seed', ...volume });
    });
  }

  it('vulndbSeed.enabled without a volume fails to render with a message naming the value', () => {
    expect(() => renderChart(CHART, { vulndbSeed: { enabled: true, volume: {}, file: 'vulndb.sqlite' } })).to.throw(/vulndbSeed\.volume/);
  });
});
