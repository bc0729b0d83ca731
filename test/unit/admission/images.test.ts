import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
import { extractImages } from '../../../src/admission/images.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'admission');
function load(name: string): { request: { kind: { kind: string }; object: unknown; oldObject: unknown; subResource?: string } } {
  return JSON.parse(fs.readFileSync(path.join(FIX, `admissionreview-${name}.json`), 'utf8'));
}

const APP = 'registry.example.test/team/app:1.4.2';
const MIGRATE = 'registry.example.test/team/app-migrations:1.4.2';
const NGINX = 'docker.io/library/nginx@sha256:fea45b30ff7d9a96aa3dc350da9cd4ccbc7eaee2f7d10f1f98a5ebd648644787';

describe('admission/images extractImages', () => {
  const cases: Array<[string, string]> = [
    ['pod-create', 'spec'],
    ['deployment-create', 'spec.template.spec'],
    ['statefulset', 'spec.template.spec'],
    ['daemonset', 'spec.template.spec'],
    ['replicaset', 'spec.template.spec'],
    ['job', 'spec.template.spec'],
    ['cronjob', 'spec.jobTemplate.spec.template.spec'],
    ['replicationcontroller', 'spec.template.spec'],
    ['podtemplate', 'template.spec'],
  ];
  for (const [file, base] of cases) {
    it(`finds init and app containers of ${file} under ${base}`, () => {
      const r = load(file).request;
      const got = extractImages(r.kind.kind, r.object);
      const ptr = '/' + base.replace(/\./g, '/');
      expect(got).to.deep.equal([
        { image: MIGRATE, path: `${base}.initContainers[0].image`, pointer: `${ptr}/initContainers/0/image`, key: 'initContainers/migrate', pullPolicy: 'IfNotPresent' },
        { image: APP, path: `${base}.containers[0].image`, pointer: `${ptr}/containers/0/image`, key: 'containers/app', pullPolicy: 'IfNotPresent' },
        { image: NGINX, path: `${base}.containers[1].image`, pointer: `${ptr}/containers/1/image`, key: 'containers/proxy', pullPolicy: 'IfNotPresent' },
      ]);
    });
  }

  it('finds image volumes at spec.volumes[i].image.reference', () => {
    const r = load('pod-image-volume').request;
    const got = extractImages(r.kind.kind, r.object);
    expect(got.at(-1)).to.deep.equal({
      image: 'registry.example.test/ml/model:v3',
      path: 'spec.volumes[1].image.reference',
      pointer: '/spec/volumes/1/image/reference',
      key: 'volumes/model',
      pullPolicy: 'IfNotPresent',
    });
    expect(got).to.have.length(4);
  });

  it('gives only ephemeral containers for the pods/ephemeralcontainers subresource', () => {
    const r = load('pod-ephemeralcontainers').request;
    expect(extractImages('Pod', r.object, 'ephemeralcontainers')).to.deep.equal([
      { image: 'registry.example.test/tools/debug:2.0', path: 'spec.ephemeralContainers[0].image', pointer: '/spec/ephemeralContainers/0/image', key: 'ephemeralContainers/debugger-x7k2p', pullPolicy: 'IfNotPresent' },
    ]);
    // Without the subresource the whole pod is listed, ephemeral containers included.
    expect(extractImages('Pod', r.object).map((l) => l.path)).to.include('spec.ephemeralContainers[0].image');
  });

  it('gives nothing for other subresources, other kinds and malformed objects', () => {
    const r = load('pod-create').request;
    expect(extractImages('Pod', r.object, 'status')).to.deep.equal([]);
    expect(extractImages('ConfigMap', { data: {} })).to.deep.equal([]);
    expect(extractImages('Pod', null)).to.deep.equal([]);
    expect(extractImages('Pod', { spec: { containers: 'nope', initContainers: [null, 3] } })).to.deep.equal([]);
    expect(extractImages('Deployment', { spec: { template: [] } })).to.deep.equal([]);
  });

  it('keeps a container without image as an empty reference', () => {
    expect(extractImages('Pod', { spec: { containers: [{ name: 'a' }] } })).to.deep.equal([
      { image: '', path: 'spec.containers[0].image', pointer: '/spec/containers/0/image', key: 'containers/a', pullPolicy: undefined },
    ]);
  });
});
