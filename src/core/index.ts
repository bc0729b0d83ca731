/** Core nouns and errors of pushgate. No I/O. */
export * from './errors.js';
export * from './digest.js';
export * from './manifest.js';
export * from './manifest-parse.js';
export { GoDecodeError, goFoldKey, parseJsonTree } from './go-json.js';
export * from './image-ref.js';
export * from './names.js';
export * from './inventory.js';
export * from './os-table.js';
export * from './finding.js';
export * from './base-image.js';
export * from './verdict.js';
export * from './events.js';
export * from './host.js';
export * from './secret-equal.js';
