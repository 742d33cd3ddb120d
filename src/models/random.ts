// The seeded generator lives below every layer (data/synthetic.ts uses it too).
export { Random } from '../core/random.js';
