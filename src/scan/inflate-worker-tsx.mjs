// Worker entry used when pushgate runs from its TypeScript sources (tests, bin/pushgate.js in a
// checkout): tsx hooks registered on the main thread do not reach worker threads, so the worker
// registers them itself and then loads inflate-worker.ts. The compiled image uses dist/scan/inflate-worker.js.
import { register } from 'tsx/esm/api';

register();
await import('./inflate-worker.ts');
