/**
 * Secrets in the strings of an image config or manifest (src/scan/secret-spans.ts,
 * src/scan/config-secrets.ts): tables of strings that hold a secret and strings that do not, each
 * asserted both ways, and the paths and redacted copies redactDocument produces. The secret values
 * are made up at run time from fixed pieces; none is a real credential.
 */
import { expect } from 'chai';
import { redactDocument, MAX_DOCUMENT_DEPTH, MAX_LISTED_SECRETS } from '../../../src/scan/config-secrets.js';
import { REDACTED_MARK, assignmentRule, findSecretSpans, redactText } from '../../../src/scan/secret-spans.js';

const AK = 'AKIA' + 'Z2Y3X4W5V6U7T2S3';
const GH = 'ghp_' + 'Ab1'.repeat(12);
const PW = 'Tr0ub4dor' + '-and-3';

describe('scan: secrets in image config strings', () => {
  // [text, rule of the secret, the secret value]
  const found: Array<[string, string, string]> = [
    [`RUN |2 NPM_TOKEN=${PW} BUILD=1 /bin/sh -c npm ci # buildkit`, 'secret-assignment', PW],
    [`|1 GITHUB_TOKEN=${GH} /bin/sh -c make`, 'github-token', GH],
    [`/bin/sh -c #(nop)  ENV DB_PASSWORD=${PW}`, 'env-password', PW],
    [`ARG api_key="${PW}"`, 'secret-assignment', PW],
    [`export CLIENT_SECRET='${PW}' && run`, 'secret-assignment', PW],
    [`mysql -uroot -p${PW} -e 'select 1'`, 'password-option', PW],
    [`mariadb --user=root --password=${PW}`, 'password-option', PW],
    [`app --token ${PW} --verbose`, 'password-option', PW],
    [`keytool -list -storepass ${PW}`, 'password-option', PW],
    [`curl -u admin:${PW} https://example.test/`, 'password-option', PW],
    [`git clone https://bot:${PW}@git.example.test/x.git`, 'url-credentials', PW],
    [`DATABASE_URL=postgres://app:${PW}@db:5432/app`, 'url-credentials', PW],
    [`curl -H "Authorization: Bearer ${PW}" https://api.example.test`, 'authorization-header', PW],
    [`wget --header='Private-Token: ${PW}' https://gitlab.example.test`, 'authorization-header', PW],
    [`echo ${AK} > /root/.aws/credentials`, 'aws-access-key-id', AK],
    [`see https://example.test/?access_token=${PW}&x=1`, 'secret-assignment', PW],
    [`ENV JAVA_OPTS="-Xmx1g -Ddb.password=${PW}"`, 'env-password', PW],
  ];
  for (const [text, rule, secret] of found) {
    it(`finds ${rule} in ${JSON.stringify(text.replace(secret, 'SECRET'))}`, () => {
      const spans = findSecretSpans(text);
      expect(spans.map((s) => s.rule)).to.include(rule);
      const r = redactText(text);
      expect(r).to.include(REDACTED_MARK);
      // Nothing of the value beyond a format prefix (AKIA, ghp_) stays.
      for (let i = 0; i + 6 <= secret.length; i++) expect(r, r).to.not.include(secret.slice(i, i + 6));
    });
  }

  const clean = [
    'RUN apt-get update && apt-get install -y ca-certificates',
    'ENV GPG_KEY A035C8C19219BA821ECEA86B64E628F8D684696D',
    'GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D',
    'ALLOW_EMPTY_PASSWORD=yes',
    'MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db',
    'NPM_TOKEN=${NPM_TOKEN}',
    'RUN --mount=type=secret,id=npm NPM_TOKEN=$(cat /run/secrets/npm) npm ci',
    'DB_PASSWORD=changeme',
    'PASSWORD_MIN_LENGTH=12',
    'TOKEN_TTL=3600',
    'mkdir -p /app/data',
    'docker run -p8080:80 x',
    'app --password-stdin',
    'app --password-file /run/secrets/pw',
    'curl -H "Authorization: Bearer $TOKEN" https://api.example.test',
    'git clone https://git.example.test/x.git',
    'https://user:${PASS}@host/',
    '-----BEGIN PUBLIC KEY-----',
    'JAVA_OPTS=-Djavax.net.ssl.trustStorePassword=changeit -Dfile.encoding=UTF-8',
  ];
  for (const text of clean) {
    it(`finds nothing in ${JSON.stringify(text)}`, () => {
      expect(findSecretSpans(text)).to.deep.equal([]);
      expect(redactText(text)).to.equal(text);
    });
  }

  it('names: passwords, tokens, keys and credentials; not what only describes them', () => {
    for (const n of ['DB_PASSWORD', 'PASSWORD', 'MYSQL_ROOT_PASSWORD', 'REDIS_PASS', 'smtpPassword', 'passphrase']) expect(assignmentRule(n), n).to.equal('env-password');
    for (const n of ['NPM_TOKEN', 'api_token', 'apiKey', 'API_KEY', 'AWS_SECRET_ACCESS_KEY', 'SECRET_KEY_BASE', 'CLIENT_SECRET', 'NPM_CONFIG__AUTH', 'GOOGLE_CREDENTIALS', 'com.example.token']) expect(assignmentRule(n), n).to.equal('secret-assignment');
    for (const n of ['GPG_KEY', 'PUBLIC_KEY', 'TOKEN_URL', 'PASSWORD_FILE', 'ALLOW_EMPTY_PASSWORD', 'KEY_ID', 'TOKEN_TTL', 'PATH', 'org.opencontainers.image.title', 'HOSTNAME']) expect(assignmentRule(n), n).to.equal(undefined);
  });

  it('redactDocument: every location of a config, with paths, and a copy holding no value', () => {
    const key = `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU${'Q'.repeat(30)}\n-----END OPENSSH PRIVATE KEY-----\n`;
    const cfg = {
      architecture: 'amd64',
      os: 'linux',
      author: `ci <https://ci:${PW}@ci.example.test>`,
      config: {
        User: 'app',
        Env: ['PATH=/usr/bin', `DB_PASSWORD=${PW} with spaces`, `AWS_ACCESS_KEY_ID=${AK}`],
        Cmd: ['mysql', '-uroot', '--password', PW],
        Entrypoint: ['/bin/sh', '-c', `curl -H "Authorization: token ${PW}" x`],
        WorkingDir: `/src/${GH}`,
        Volumes: { [`/data/${AK}`]: {} },
        OnBuild: [`RUN echo --api-key=${PW}`],
        Healthcheck: { Test: ['CMD-SHELL', `wget --password=${PW} http://localhost/`] },
        Shell: ['/bin/bash', '-c', `export API_KEY=${PW}`],
        Labels: { api_token: PW, 'org.example.deploy-key': key, [GH]: 'x', note: 'nothing here' },
      },
      container_config: { Cmd: ['/bin/sh', '-c', `#(nop) ENV SECRET=${PW}`] },
      history: [
        { created_by: '/bin/sh -c #(nop) ADD file:abc in /' },
        { created_by: `RUN |1 NPM_TOKEN=${PW} /bin/sh -c npm ci # buildkit`, comment: `token ${GH}` },
      ],
    };
    const r = redactDocument(cfg, 'config');
    expect(r.secrets.map((s) => `${s.rule} ${s.path}`)).to.have.members([
      'url-credentials config:author',
      'env-password config:Env[1]',
      'aws-access-key-id config:Env[2]',
      'password-option config:Cmd[3]',
      'authorization-header config:Entrypoint[2]',
      'github-token config:WorkingDir',
      `aws-access-key-id config:Volumes["/data/AKIA${REDACTED_MARK}"]`,
      'password-option config:OnBuild[0]',
      'password-option config:Healthcheck.Test[1]',
      'secret-assignment config:Shell[2]',
      'secret-assignment config:Labels.api_token',
      'private-key config:Labels.org.example.deploy-key',
      `github-token config:Labels["ghp_${REDACTED_MARK}"]`,
      'secret-assignment config:container_config.Cmd[2]',
      'secret-assignment config:history[1].created_by',
      'github-token config:history[1].comment',
    ]);
    const text = JSON.stringify(r);
    for (const v of [PW, AK.slice(4), GH.slice(4), 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmU', 'with spaces']) expect(text, v).to.not.include(v);
    expect(r.doc.config.Env[0]).to.equal('PATH=/usr/bin');
    expect(r.doc.config.Labels.note).to.equal('nothing here');
    expect(r.doc.history[1].created_by).to.equal(`RUN |1 NPM_TOKEN=${REDACTED_MARK} /bin/sh -c npm ci # buildkit`);
    expect(r.doc.config.Labels['org.example.deploy-key']).to.equal(`-----BEGIN OPENSSH PRIVATE KEY-----${REDACTED_MARK}-----END OPENSSH PRIVATE KEY-----\n`);
    expect(r.secrets.find((s) => s.rule === 'private-key')?.line).to.equal(1);
  });

  it('hostile configs (2 MiB of patterns that would make a backtracking search quadratic) take linear time; listed findings are capped', () => {
    const N = 2 << 20;
    const rep = (x: string) => x.repeat(Math.floor(N / x.length));
    const docs: Record<string, unknown> = {
      'unclosed quotes': { config: { Labels: { a: rep('a="') } } },
      'curl -u without a colon': { history: [{ created_by: `curl ${rep('/-u')}` }] },
      'private key headers without END': { author: rep('-----BEGIN PRIVATE KEY-----') },
      'an option with an unclosed quote': { config: { Cmd: [rep('--password "')] } },
      'mysql -p with unclosed quotes': { config: { Entrypoint: ['mysql', rep('mysql -p"')] } },
      'URL scheme runs': { author: rep('-b') },
      'plain assignments': { author: rep('a=') },
      'many findings': { config: { Env: [`X=${rep('DB_PASSWORD=hunter22 ')}`] } },
      'many lines': { author: rep('\nDB_PASSWORD=hunter22') },
    };
    for (const [what, doc] of Object.entries(docs)) {
      const t = performance.now();
      const r = redactDocument(doc, 'config');
      const ms = performance.now() - t;
      expect(ms, `${what}: ${Math.round(ms)} ms`).to.be.below(5000);
      expect(r.secrets.length, what).to.be.at.most(MAX_LISTED_SECRETS + 1);
      expect(JSON.stringify(r.doc), what).to.not.include('hunter22');
    }
    const many = redactDocument({ author: rep('DB_PASSWORD=hunter22 ') }, 'config').secrets;
    expect(many.at(-1)).to.include({ rule: 'more-secrets', path: 'config:' });
  });

  it('redactDocument: manifest and index annotations; `__proto__` stays a key; deep nesting is refused', () => {
    const m = redactDocument({ schemaVersion: 2, annotations: { 'com.example.password': PW, 'org.opencontainers.image.source': `https://x:${PW}@git.example.test/r` }, layers: [{ digest: 'sha256:' + 'a'.repeat(64), annotations: { t: AK } }] }, 'manifest');
    expect(m.secrets.map((s) => `${s.rule} ${s.path}`)).to.deep.equal([
      'env-password manifest:annotations.com.example.password',
      'url-credentials manifest:annotations.org.opencontainers.image.source',
      'aws-access-key-id manifest:layers[0].annotations.t',
    ]);
    expect(JSON.stringify(m)).to.not.include(PW);
    const proto = redactDocument(JSON.parse(`{"__proto__": {"x": "DB_PASSWORD=${PW}"}}`) as object, 'index');
    expect(Object.getPrototypeOf(proto.doc)).to.equal(Object.prototype);
    expect(proto.secrets.map((s) => s.path)).to.deep.equal(['index:__proto__.x']);
    let deep: unknown = 'x';
    for (let i = 0; i <= MAX_DOCUMENT_DEPTH + 1; i++) deep = [deep];
    expect(() => redactDocument(deep, 'config')).to.throw(/nests deeper than/);
  });
});
