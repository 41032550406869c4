// Focus across re-renders: every trait change redraws the board, and the keyboard
// user's place (a chip, a flow step's button, the formula box...) must survive it.
import { chipSel, cssEscape, groupSel } from "./dom.js";

// Focus the first of `sels` (a selector or a list) that exists and can take focus;
// the board itself when none can, so the keyboard stays on the board.
export function focusFirst(ctx, sels) {
  for (const sel of [].concat(sels)) {
    const t = sel && ctx.root.querySelector(sel);
    if (t && !t.disabled && t.getClientRects().length) {
      t.focus();
      return true;
    }
  }
  ctx.root.focus();
  return false;
}

// Focus what the last board action asked for (ctx.focusAfterRender), if anything.
export function refocus(ctx) {
  if (!ctx.focusAfterRender) return;
  const sels = ctx.focusAfterRender;
  ctx.focusAfterRender = null;
  focusFirst(ctx, sels);
}

const STEP_BUTTONS = ["vb-flow-up", "vb-flow-down", "vb-flow-remove", "vb-flow-repeat"];

// Selectors that find the focused control `el` again after a re-render (best first).
export function focusKey(ctx, el) {
  const root = ctx.root;
  if (!el || el === root || !root.contains(el)) return null;
  if (el.matches(".vb-chip[data-var]")) return [chipSel(el.dataset.var)];
  if (ctx.menu && ctx.menu.el.contains(el)) return [chipSel(ctx.menu.variable)];
  if (el.matches(".vb-new-group")) return [".vb-new-group"];
  const col = el.closest(".vb-group[data-group]");
  if (!col) return [".vb-new-group"];
  const g = groupSel(col.dataset.group);
  const fallback = [`${g} .vb-flow-formula`, `${g} select.vb-family`, ".vb-new-group"];
  const step = el.closest(".vb-flow-step");
  if (step) {
    const st = `${g} .vb-flow-step[data-index="${step.dataset.index}"]`;
    const cls = STEP_BUTTONS.find((c) => el.classList.contains(c));
    const own = cls ? [`${st} .${cls}`] : [];
    return [...own, `${st} .vb-flow-up`, `${st} .vb-flow-down`, ...fallback];
  }
  if (el.matches(".vb-flow-add")) {
    return [`${g} .vb-flow-add[data-flow="${cssEscape(el.dataset.flow)}"]`, ...fallback];
  }
  if (el.matches("select.vb-family")) return [`${g} select.vb-family`, ...fallback];
  if (el.matches(".vb-flow-formula")) return [`${g} .vb-flow-formula`, ...fallback];
  if (el.matches(".vb-remove-group")) return [`${g} .vb-remove-group`, ".vb-new-group"];
  if (el.matches(".vb-rowwise")) return [`${g} .vb-rowwise`, ...fallback];
  return fallback;
}
