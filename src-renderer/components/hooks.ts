import { useEffect, useState } from 'react';

/** Wall-clock time that re-renders the caller every `intervalMs` (for "connected for", countdowns, ages). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
