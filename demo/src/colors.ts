/**
 * Cluster colours: Sasha Trubetskoy's 20 distinct colours, ordered so that the first few are
 * the most different; beyond 20 they repeat. Unlabelled points are grey.
 */
export const PALETTE = [
  '#e6194b',
  '#3cb44b',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#42d4f4',
  '#f032e6',
  '#bfef45',
  '#fabed4',
  '#469990',
  '#dcbeff',
  '#9a6324',
  '#fffac8',
  '#800000',
  '#aaffc3',
  '#808000',
  '#ffd8b1',
  '#000075',
  '#ffe119',
  '#a9a9a9',
] as const;
export const UNLABELLED = '#5a5f6a';

/** The colour of a label as RGBA in [0, 1]. */
export function rgba(hex: string, alpha = 1): [number, number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255, alpha];
}

export const colourOf = (label: number): string => (label < 0 ? UNLABELLED : PALETTE[label % PALETTE.length]);
