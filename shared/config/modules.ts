// What an app module may be: the file extensions hostd loads, and those it compiles first.

/** Extensions compiled with esbuild when a pool starts; .js .mjs .cjs are imported as they are. */
export const COMPILED_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.cts', '.tsx', '.jsx']);

export const MODULE_EXTENSIONS: readonly string[] = ['.js', '.mjs', '.cjs', ...COMPILED_EXTENSIONS];
