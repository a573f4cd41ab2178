/**
 * `pick_files` (protocol.md §5.1): data files dropped into a directory become telemetry records.
 * Arguments: `pending_path` (default `.`), `processed_path` (files are moved there after sending; without it they
 * are sent again every interval, as in the original), `match` (glob on the file name, default `*.yml`), `parser`
 * (`yaml` | `json` | `csv`, else chosen by extension). YAML/JSON → one record (non-objects wrapped as
 * `{"payload": …}`); CSV → one record per row, keyed by the header row. Each record is one `JSON:` sample.
 *
 * Deliberate fix: a file with no known parser is sent as `{"payload": "<text>"}` instead of raw text behind
 * `JSON:`, because invalid JSON there makes the server's PostgreSQL destination drop a whole batch.
 */
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import picomatch from 'picomatch';
import { parse as parseYaml } from 'yaml';
import type { CollectorContext, TelemetrySample } from './collector';

export type { PickFilesState } from './collector';

function text(args: Record<string, unknown>, key: string, fallback?: string): string | undefined {
  const value = args[key];
  return typeof value === 'string' && value !== '' ? value : fallback;
}

/** Minimal RFC 4180 CSV: quoted fields, doubled quotes, commas and newlines inside quotes, CRLF. */
export function parseCsv(input: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (quoted) {
      if (ch === '"' && input[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && input[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((cell) => cell !== '')) rows.push(row);
      row = [];
    } else field += ch;
  }
  row.push(field);
  if (row.some((cell) => cell !== '')) rows.push(row);
  return rows;
}

const asObject = (value: unknown): unknown =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? value : { payload: value };

/** File content → JSON texts, one per record. Throws when the content does not parse. */
export function recordsFromFile(content: string, parser: string): string[] {
  switch (parser) {
    case 'yaml':
    case 'yml':
      return [JSON.stringify(asObject(parseYaml(content) ?? null))];
    case 'json':
      return [JSON.stringify(asObject(JSON.parse(content)))];
    case 'csv': {
      const [header, ...rows] = parseCsv(content);
      if (!header) return [];
      return rows.map((cells) =>
        JSON.stringify(Object.fromEntries(header.map((key, i) => [key, cells[i] ?? '']))),
      );
    }
    default:
      return [JSON.stringify({ payload: content })];
  }
}

export async function pickFiles(
  ctx: CollectorContext,
  args: Record<string, unknown>,
): Promise<TelemetrySample[]> {
  const pending = resolve(text(args, 'pending_path', '.') as string);
  const processed = text(args, 'processed_path');
  const match = picomatch(text(args, 'match', '*.yml') as string);
  const parserArg = text(args, 'parser')?.toLowerCase();
  const stateKey = pending;
  const state = ctx.state.pickFiles.get(stateKey) ?? { failed: new Map<string, number>() };
  ctx.state.pickFiles.set(stateKey, state);

  let names: string[];
  try {
    names = (await readdir(pending)).filter((name) => match(name)).sort();
  } catch (error) {
    ctx.log(
      'warn',
      `pick_files: cannot list ${pending}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
    return [];
  }
  const samples: TelemetrySample[] = [];
  for (const name of names) {
    const path = join(pending, name);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) continue;
    let records: string[];
    try {
      const parser = parserArg ?? extname(name).slice(1).toLowerCase();
      records = recordsFromFile(await readFile(path, 'utf8'), parser);
      state.failed.delete(path);
    } catch (error) {
      if (state.failed.get(path) !== info.mtimeMs) {
        state.failed.set(path, info.mtimeMs);
        ctx.log('warn', `pick_files: ${path} not sent: ${(error as Error).message}`);
      }
      continue;
    }
    const fileSamples: TelemetrySample[] = records.map((json) => ({ name: `JSON:${json}`, values: [] }));
    const last = fileSamples[fileSamples.length - 1];
    // Move the file only once its last record was accepted by the sink, so nothing is lost if that fails.
    if (processed && last) {
      last.commit = async () => {
        try {
          await mkdir(processed, { recursive: true });
          await rename(path, join(processed, name));
        } catch (error) {
          ctx.log('warn', `pick_files: could not move ${path} to ${processed}: ${(error as Error).message}`);
        }
      };
    }
    samples.push(...fileSamples);
  }
  return samples;
}
