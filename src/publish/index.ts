/** Publishing pushgate's results as OCI referrers of the judged image (SBOM, report, signed verdict attestation). */
export { ReferrerPublisher } from './publisher.js';
export type { PublishOutcome, PublishRequest, PublisherOptions } from './publisher.js';
export * from './documents.js';
export { parseSigningKey, publicKeyPem, pae, IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V1 } from '../trust/attest.js';
