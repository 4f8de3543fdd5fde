// Command-line flags of the Node benchmarks: `--name value` pairs and bare `--name` switches.

/** The value after `name` on the command line, or `fallback` when it is absent. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** Whether the switch `name` is on the command line. */
export const flag = (name: string): boolean => process.argv.includes(name);
