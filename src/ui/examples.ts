// Example prompts offered as chips under the prompt: ones the shipped M-Mamba S draws recognisably (short
// colour + object captions like its training data). One list, used by the prompt panel and its tests.
export const EXAMPLE_PROMPTS = ['red apple', 'a red heart', 'blue heart', 'yellow star', 'green tree'] as const;
