export declare const threadEntries: Record<'worker' | 'front' | 'proxy-gateway' | 'daemon-process', string>;
export declare const bundleOptions: import('esbuild').BuildOptions;
