/** One measured comparison; `ratio` is ours ÷ baseline measured side by side in the same run. */
export interface BenchResult {
  name: string;
  ratio?: number;
  /** The ratio we aim for (higher is better unless `lowerIsBetter`). */
  target?: number;
  lowerIsBetter?: boolean;
  details: string;
}
