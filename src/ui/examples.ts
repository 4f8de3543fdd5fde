// Example prompts offered as chips under the prompt: ones the shipped M-Mamba v2 draws recognisably in at least 3 of
// the 4 seeds of its everyday grid (docs/img/everyday-mmamba-v2-stage4.png, guidance 2; all 4 but a yellow star). One
// list, used by the prompt panel and its tests; re-check it against the grid whenever the default generator changes.
export const EXAMPLE_PROMPTS = ['red apple', 'cat face', 'a red heart', 'thumbs up', 'house', 'a yellow star'] as const;
