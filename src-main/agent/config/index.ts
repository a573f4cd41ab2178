/** Config file handling for the core and the CLI; the schema itself lives in src-shared/config.ts. */
export * from './paths';
export * from './config-file';
export { writeFileAtomic } from './atomic-write';
