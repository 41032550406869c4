// The board's part in the plots: Python draws the ELBO and marginals pictures as wide
// as the cell, so their text stays readable at any width; the board measures the
// cell and reports it in trait `width`.

export const WIDE = 1000; // px: a cell at least this wide gets the full-size plots
export const MIN_CHANGE = 40; // px: a smaller change (a scroll bar) is not reported

// The width to report for a board `w` px wide when `sent` was reported last, or null
// to report nothing: 0 for a wide cell, else the width, on a change of MIN_CHANGE px.
export function widthToReport(w, sent) {
  if (w <= 0) return null;
  const narrow = w >= WIDE ? 0 : w;
  if ((narrow === 0) !== (sent === 0) || Math.abs(narrow - sent) >= MIN_CHANGE) return narrow;
  return null;
}

// Watch the board's width; returns the function that stops watching.
export function reportWidth(model, root) {
  let sent = model.get("width") || 0;
  const resize = new ResizeObserver(() => {
    const next = widthToReport(Math.round(root.clientWidth), sent);
    if (next === null) return;
    sent = next;
    model.set("width", next);
    model.save_changes();
  });
  resize.observe(root);
  return () => resize.disconnect();
}
