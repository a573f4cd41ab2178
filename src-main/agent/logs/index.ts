/** Log shipping from `tail_logs` files. */
export * from './tailer';
export { lineToMessages, decodeLine, MIN_MESSAGE_BYTES } from './lines';
export { loadCheckpoint, type TailCheckpoint, type FileCheckpoint } from './checkpoint';
