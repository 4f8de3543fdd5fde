/** "1 step", "3 steps": a count with its noun in the right number (regular English plurals only). */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
