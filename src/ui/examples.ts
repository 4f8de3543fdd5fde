// Example prompts offered as chips under the prompt: ones the shipped default, M-Mamba M, draws recognisably in 4 of
// the 4 seeds of its everyday grid at its recommended settings (docs/img/everyday-mmamba-m-stage5-page.png: 12 steps,
// guidance 3, tau 1.5, temperature 0.8), by eye and by the ruler's classifier. One list, used by the prompt panel and
// its tests; re-check it against that grid whenever the default generator or its settings change.
export const EXAMPLE_PROMPTS = ['red apple', 'cat face', 'a red heart', 'thumbs up', 'house', 'birthday cake'] as const;
