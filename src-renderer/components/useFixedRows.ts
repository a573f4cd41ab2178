import { useLayoutEffect, useState, type RefObject } from 'react';

export interface RowWindow {
  /** First row index to render (inclusive). */
  first: number;
  /** Last row index to render (exclusive). */
  last: number;
  totalHeight: number;
}

/**
 * Windowing for rows of one fixed height: which rows intersect the scroll viewport, in O(1) per render whatever the
 * row count (100,000 log lines cost the same as 100). Generic virtualizers keep a measurement per row and rebuild
 * it whenever the count changes, which at 10 batches a second over a full ring is most of the page's work.
 */
export function useFixedRows(
  ref: RefObject<HTMLElement | null>,
  count: number,
  rowHeight: number,
  overscan = 10,
): RowWindow {
  const [viewport, setViewport] = useState({ top: 0, height: 0 });
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const update = (): void =>
      setViewport((v) =>
        v.top === el.scrollTop && v.height === el.clientHeight
          ? v
          : { top: el.scrollTop, height: el.clientHeight },
      );
    update();
    el.addEventListener('scroll', update, { passive: true });
    const resize = new ResizeObserver(update);
    resize.observe(el);
    return () => {
      el.removeEventListener('scroll', update);
      resize.disconnect();
    };
  }, [ref]);
  const first = Math.max(0, Math.floor(viewport.top / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((viewport.top + viewport.height) / rowHeight) + overscan);
  return { first, last: Math.max(first, last), totalHeight: count * rowHeight };
}
