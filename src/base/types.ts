/** The base catalog's records, as the store keeps them (src/store/base-catalog-types.ts). */
export type { BaseCatalogStore, CatalogEntry, CatalogTag, TagHistory } from '../store/base-catalog-types.js';
