// The board's links to the workbench's Fit/Stop controls (ipywidgets buttons around
// the board): "f" on the board jumps to Fit (Stop while a fit runs), and the focus
// stays on Fit/Stop when the one pressed becomes disabled.

// The control "f" goes to: Fit when it can be pressed, else Stop, else Fit.
export function fitControl(wb) {
  if (!wb) return null;
  const fit = wb.querySelector("button.vb-fit");
  const stop = wb.querySelector("button.vb-stop");
  if (fit && !fit.disabled) return fit;
  if (stop && !stop.disabled) return stop;
  return fit || null;
}

// Whether a keydown is the board's "go to Fit" shortcut (a plain "f", not typed text).
export function isFitShortcut(ev) {
  if (ev.key !== "f" || ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return false;
  const t = ev.target;
  return !(t && t.closest && t.closest("input, textarea, select, [contenteditable='true']"));
}

// "f" anywhere on the board (not while typing or dragging) focuses Fit or Stop.
export function fitShortcut(ctx, workbench) {
  ctx.root.addEventListener("keydown", (ev) => {
    if (!isFitShortcut(ev) || ctx.drag) return;
    const target = fitControl(workbench());
    if (!target) return;
    ev.preventDefault();
    target.focus();
  });
}

// Focus stays on the Fit/Stop control pressed. Fit is disabled while a fit runs and
// Stop when it ends: a focused button that becomes disabled drops the focus to the
// page (a keyboard user would have to Tab ~30 times back). When that happens to the
// Fit or Stop button the user was on, the focus moves to whichever of the two can be
// pressed now (Stop while running, Fit after). Focus the user moved elsewhere is
// never taken. Returns the function that stops watching.
export function keepFitFocus(workbench) {
  let wb = null;
  let observer = null;
  let onIt = false; // the last focus in this workbench was on Fit or Stop
  let tries = 0;
  let timer = null;
  const onFocusIn = (ev) => {
    if (!wb) return;
    onIt = wb.contains(ev.target) && !!ev.target.closest("button.vb-fit, button.vb-stop");
  };
  const check = () => {
    if (!onIt || !wb) return;
    const a = document.activeElement;
    const dropped =
      !a || a === document.body || (a.matches("button.vb-fit, button.vb-stop") && a.disabled);
    if (!dropped) return;
    const target = fitControl(workbench());
    if (target && !target.disabled) target.focus();
  };
  const attach = () => {
    timer = null;
    wb = workbench();
    if (!wb) {
      if (tries++ < 100) timer = setTimeout(attach, 100);
      return;
    }
    observer = new MutationObserver(() => setTimeout(check, 0));
    observer.observe(wb, { attributes: true, attributeFilter: ["disabled"], subtree: true });
  };
  document.addEventListener("focusin", onFocusIn, true);
  attach();
  return () => {
    if (timer) clearTimeout(timer);
    if (observer) observer.disconnect();
    document.removeEventListener("focusin", onFocusIn, true);
  };
}
