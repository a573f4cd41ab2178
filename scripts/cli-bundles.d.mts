import type { BuildOptions, Plugin } from 'esbuild';

export const SIBLING_BUNDLES: Record<string, string>;
export const siblingBundlesPlugin: Plugin;
export function cliBundleOptions(common: BuildOptions): BuildOptions[];
