// package.json is the one place the version is bumped; bundlers inline this import.
import packageJson from '../../package.json';

export const AGENT_NAME = 'minion-agent';
export const AGENT_VERSION: string = packageJson.version;
