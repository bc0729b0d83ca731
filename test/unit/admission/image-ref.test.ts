/**
 * The normalization admission relies on (protocols.md §6.6, distribution/reference normalize.go):
 * checked here because a wrong registry or repository means judging the wrong verdict.
 */
import { expect } from 'chai';
import { parseImageRef } from '../../../src/core/index.js';

const H = 'sha256:' + 'b'.repeat(64);
const cases: Array<[string, string, string, string | undefined, string | undefined]> = [
  // input, registry, repository, tag, digest
  ['nginx', 'docker.io', 'library/nginx', 'latest', undefined],
  ['docker.io/nginx', 'docker.io', 'library/nginx', 'latest', undefined],
  ['index.docker.io/nginx:1.25', 'docker.io', 'library/nginx', '1.25', undefined],
  ['bitnami/redis', 'docker.io', 'bitnami/redis', 'latest', undefined],
  ['localhost/foo', 'localhost', 'foo', 'latest', undefined],
  ['localhost:5000/team/app:v1', 'localhost:5000', 'team/app', 'v1', undefined],
  ['localhost', 'docker.io', 'library/localhost', 'latest', undefined],
  // an upper-case first component is a domain (distribution/reference splitDockerDomain), normalized
  ['Registry/app', 'registry', 'app', 'latest', undefined],
  ['REGISTRY.Example.TEST:0443/team/app', 'registry.example.test:443', 'team/app', 'latest', undefined],
  ['LOCALHOST:05000/team/app', 'localhost:5000', 'team/app', 'latest', undefined],
  ['registry-1.docker.io/nginx', 'docker.io', 'library/nginx', 'latest', undefined],
  ['[0:0::1]:5000/foo', '[::1]:5000', 'foo', 'latest', undefined],
  ['registry.example.test/team/app', 'registry.example.test', 'team/app', 'latest', undefined],
  [`registry.example.test/team/app:1.4.2@${H}`, 'registry.example.test', 'team/app', '1.4.2', H],
  [`nginx@${H}`, 'docker.io', 'library/nginx', undefined, H],
  ['[::1]:5000/foo:1', '[::1]:5000', 'foo', '1', undefined],
];

describe('admission: reference normalization (core parseImageRef against protocols.md §6.6)', () => {
  for (const [input, registry, repository, tag, digest] of cases) {
    it(`${input} → ${registry}/${repository}${tag ? `:${tag}` : ''}${digest ? '@…' : ''}`, () => {
      expect(parseImageRef(input)).to.deep.equal({ registry, repository, tag, digest });
    });
  }
  for (const bad of ['', 'ghcr.io/Team/app', 'foo:', 'foo@sha256:abc', 'foo___bar', 'a/'.repeat(130) + 'b',
    // refused, not guessed: what the runtime refuses or would read otherwise
    'registry.example.test./app', ' nginx', 'nginx ', 'reg.test/app\n', 'reg.test:0/app', 'reg.test:70000/app', 'reg_1.test/app', '-reg.test/app',
    '::1:5000/app', '[::1/app', '[zz::1]:5000/app', 'a'.repeat(64), 'reg.test:5000:1/app',
    // image IDs (or prefixes of one) that containerd and Docker resolve among the node's images
    'sha256:' + 'a'.repeat(64), 'sha256:3f4a', 'sha512:' + 'b'.repeat(128), `sha256:3f4a@${H}`]) {
    it(`rejects ${JSON.stringify(bad.slice(0, 30))}`, () => {
      expect(() => parseImageRef(bad)).to.throw(/reference/);
    });
  }
});
