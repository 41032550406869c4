// Dragging a chip with pointer events (mouse, pen and touch alike): a press that moves
// DRAG_THRESHOLD px becomes a drag with a ghost chip; dropping it on a group column
// moves the variable there, on the new-group zone makes a new full-rank group.
// Escape cancels. ctx.drag is {variable, chip, ghost, startX, startY, pointerId, active}.
import { chipSel } from "./dom.js";
import { closeMenu } from "./menu.js";
import { groupOf } from "./plan.js";

export const DRAG_THRESHOLD = 4; // px the pointer moves before a press becomes a drag

// Whether a press that moved by (dx, dy) px is a drag.
export function isDrag(dx, dy) {
  return Math.hypot(dx, dy) >= DRAG_THRESHOLD;
}

// What a drop on `target` asks Python for (null: nothing). `target` is described by
// {newGroup: bool, group: id}; `current` is the group the variable sits in now.
export function dropAction(variable, target, current) {
  if (!target) return null;
  if (target.newGroup) return { kind: "new_group", variable, family: "full_rank" };
  if (target.group && target.group !== current) {
    return { kind: "move", variable, group: target.group };
  }
  return null;
}

export function startDrag(ctx, ev, variable, chip) {
  if (ev.button !== undefined && ev.button !== 0) return;
  closeMenu(ctx, false);
  const d = {
    variable,
    chip,
    ghost: null,
    startX: ev.clientX,
    startY: ev.clientY,
    pointerId: ev.pointerId,
    active: false,
  };
  d.onMove = (e) => onPointerMove(ctx, e);
  d.onUp = (e) => onPointerUp(ctx, e);
  d.onCancel = () => endDrag(ctx);
  d.onKey = (e) => onDragKey(ctx, e);
  ctx.drag = d;
  try {
    chip.setPointerCapture(ev.pointerId);
  } catch (_) {
    /* synthetic events may have no capturable pointer */
  }
  chip.addEventListener("pointermove", d.onMove);
  chip.addEventListener("pointerup", d.onUp);
  chip.addEventListener("pointercancel", d.onCancel);
  document.addEventListener("keydown", d.onKey, true);
}

// Escape during a drag cancels it: the chip stays where it was, nothing is sent.
function onDragKey(ctx, ev) {
  const drag = ctx.drag;
  if (!drag || ev.key !== "Escape") return;
  ev.preventDefault();
  ev.stopPropagation();
  const { variable, active, chip } = drag;
  endDrag(ctx);
  if (active) ctx.say(`moving ${variable} cancelled`);
  const c = chip.isConnected ? chip : ctx.root.querySelector(chipSel(variable));
  if (c) c.focus();
}

function dropTargetAt(ctx, x, y) {
  const hit = document.elementFromPoint(x, y);
  if (!hit || !ctx.root.contains(hit)) return null;
  return hit.closest(".vb-new-group, .vb-group[data-group]:not(.vb-group--custom)");
}

function onPointerMove(ctx, ev) {
  const drag = ctx.drag;
  if (!drag || ev.pointerId !== drag.pointerId) return;
  if (!drag.active) {
    if (!isDrag(ev.clientX - drag.startX, ev.clientY - drag.startY)) return;
    drag.active = true;
    const ghost = drag.chip.cloneNode(true);
    ghost.classList.add("vb-ghost");
    ghost.removeAttribute("data-var");
    ghost.setAttribute("aria-hidden", "true");
    const r = drag.chip.getBoundingClientRect();
    ghost.style.width = r.width + "px";
    drag.offX = drag.startX - r.left;
    drag.offY = drag.startY - r.top;
    ctx.root.appendChild(ghost);
    drag.ghost = ghost;
    drag.chip.classList.add("vb-chip--dragging");
    ctx.root.classList.add("vb-board--dragging");
  }
  ev.preventDefault();
  drag.ghost.style.left = ev.clientX - drag.offX + "px";
  drag.ghost.style.top = ev.clientY - drag.offY + "px";
  const target = dropTargetAt(ctx, ev.clientX, ev.clientY);
  for (const t of ctx.root.querySelectorAll(".vb-drop-target")) {
    if (t !== target) t.classList.remove("vb-drop-target");
  }
  if (target) target.classList.add("vb-drop-target");
}

// End the drag (if any) and draw what changed while it was going on.
export function endDrag(ctx) {
  const drag = ctx.drag;
  if (!drag) return;
  const { chip } = drag;
  chip.removeEventListener("pointermove", drag.onMove);
  chip.removeEventListener("pointerup", drag.onUp);
  chip.removeEventListener("pointercancel", drag.onCancel);
  document.removeEventListener("keydown", drag.onKey, true);
  try {
    chip.releasePointerCapture(drag.pointerId);
  } catch (_) {
    /* already released */
  }
  if (drag.ghost) drag.ghost.remove();
  chip.classList.remove("vb-chip--dragging");
  ctx.root.classList.remove("vb-board--dragging");
  for (const t of ctx.root.querySelectorAll(".vb-drop-target")) t.classList.remove("vb-drop-target");
  ctx.drag = null;
  if (ctx.pendingRender) {
    ctx.pendingRender = false;
    ctx.draw();
  }
}

function onPointerUp(ctx, ev) {
  const drag = ctx.drag;
  if (!drag || ev.pointerId !== drag.pointerId) return;
  const { variable, active } = drag;
  const el = active ? dropTargetAt(ctx, ev.clientX, ev.clientY) : null;
  endDrag(ctx);
  if (!el) return; // a click (keep focus on the chip), or a drop outside the groups
  const target = { newGroup: el.classList.contains("vb-new-group"), group: el.dataset.group };
  const action = dropAction(variable, target, groupOf(ctx.view(), variable));
  if (!action) return;
  ctx.send(action);
  if (action.kind === "new_group") ctx.say(`${variable} moved to a new full-rank group`);
  else {
    const where = action.group === "rest" ? "the rest group" : "group " + action.group;
    ctx.say(`${variable} moved to ${where}`);
  }
}
