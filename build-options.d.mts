export declare const threadEntries: Record<'worker' | 'front' | 'proxy-gateway', string>;
export declare const bundleOptions: import('esbuild').BuildOptions;
