// Example prompts offered as chips under the prompt: ones the shipped M-Mamba v2 draws recognisably in 4 of the 4
// seeds of its everyday grid at the page's default settings (docs/img/everyday-mmamba-v2-stage4-page.png: 12 steps,
// guidance 4, tau 1.5). One list, used by the prompt panel and its tests; re-check it against that grid whenever the
// default generator or the default settings change.
export const EXAMPLE_PROMPTS = ['red apple', 'cat face', 'a red heart', 'thumbs up', 'house', 'birthday cake'] as const;
