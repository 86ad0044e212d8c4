export declare const threadEntries: Record<'worker' | 'front', string>;
export declare const bundleOptions: import('esbuild').BuildOptions;
