// The seeded generator lives in core/ (data/synthetic.ts uses it too); this path stays for the bench.
export { Random } from '../core/random.js';
