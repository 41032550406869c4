// A variable chip: its name, shape, transform and (in a row-wise group) rows. A chip
// that can move is focusable, draggable (drag.js) and opens the move menu (menu.js).
import { h, pendingBadge, shapeText } from "./dom.js";
import { startDrag } from "./drag.js";
import { onChipKey } from "./menu.js";
import { isPendingIn } from "./plan.js";

// `g`: the column the chip sits in (none for the list of discrete variables)
export function chipFor(ctx, v, g) {
  const chip = h("div", "vb-chip");
  chip.dataset.var = v.name;
  chip.appendChild(h("span", "vb-chip-name", v.name));
  chip.appendChild(h("span", "vb-chip-shape", shapeText(v.shape, v.dims)));
  if (g && g.rowwise && typeof v.rows === "number") {
    const r = h("span", "vb-chip-rows", `${v.rows} rows`);
    r.title = "each row of the first axis has its own approximation";
    chip.appendChild(r);
  }
  if (v.transform) {
    const t = h("span", "vb-chip-transform", v.transform);
    t.title = "fitted in the unconstrained space through a " + v.transform + " transform";
    chip.appendChild(t);
  }
  if (v.discrete) {
    chip.classList.add("vb-chip--discrete");
    chip.setAttribute("aria-disabled", "true");
    chip.title = v.note || "discrete: variational inference fits continuous variables only";
    chip.tabIndex = -1;
    return chip;
  }
  if (ctx.hidden("groups") || ctx.locked("groups")) {
    chip.classList.add("vb-chip--fixed");
    chip.title = "The groups are fixed for this exercise";
    return chip;
  }
  if (g && g.custom) {
    chip.classList.add("vb-chip--fixed", "vb-chip--pinned");
    chip.setAttribute("aria-disabled", "true");
    chip.title = `In group ${g.id}, built in Python (${g.label || g.family}): it cannot be moved from the board`;
    return chip;
  }
  chip.tabIndex = 0;
  chip.setAttribute("role", "button");
  chip.setAttribute("aria-haspopup", "menu");
  chip.setAttribute(
    "aria-label",
    `${v.name}, ${shapeText(v.shape, v.dims)}. Press Enter to move it to another group.`
  );
  chip.title = "Drag to another group, or focus and press Enter to choose a group";
  chip.addEventListener("pointerdown", (ev) => startDrag(ctx, ev, v.name, chip));
  chip.addEventListener("keydown", (ev) => onChipKey(ctx, ev, v.name, chip));
  return chip;
}

// A chip in column `g`, marked pending when a queued move puts it there.
export function pendingChip(ctx, v, g) {
  const chip = chipFor(ctx, v, g);
  if (isPendingIn(g, v.name)) {
    chip.classList.add("vb-chip--pending");
    chip.dataset.pending = "true";
    chip.appendChild(pendingBadge("Moves here when the running fit ends"));
  }
  return chip;
}
