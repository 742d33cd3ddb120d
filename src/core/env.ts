/** True under Node (process.versions.node exists); false in browsers and workers. */
export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
