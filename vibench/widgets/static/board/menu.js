// The keyboard path for moving a chip: Enter on a focused chip opens a "Move to" menu
// of the groups (arrow keys, Home/End, Escape), for people who cannot drag.
import { chipSel, groupTitle, h } from "./dom.js";
import { refocus } from "./focus.js";
import { familyLabel, groupOf } from "./plan.js";

const NEW_GROUP = "__new__";

// The option index a key moves to from option `i` of `n` (null: the key is not a move).
export function menuStep(key, i, n) {
  if (key === "ArrowDown") return (i + 1) % n;
  if (key === "ArrowUp") return (i - 1 + n) % n;
  if (key === "Home") return 0;
  if (key === "End") return n - 1;
  return null;
}

export function onChipKey(ctx, ev, variable, chip) {
  if (ev.key === "Enter" || ev.key === " " || ev.key === "ArrowDown") {
    ev.preventDefault();
    openMenu(ctx, variable, chip);
  }
}

export function openMenu(ctx, variable, chip) {
  closeMenu(ctx, false);
  const view = ctx.view();
  const families = ctx.model.get("families");
  const m = h("div", "vb-move-menu");
  m.setAttribute("role", "menu");
  m.setAttribute("aria-label", `Move ${variable} to`);
  m.appendChild(h("div", "vb-move-title", `Move ${variable} to:`));
  const current = groupOf(view, variable);
  const options = [];
  for (const g of view.groups) {
    if (g.custom) continue; // built in Python
    const b = h("button", "vb-move-option", groupTitle(g) + " · " + familyLabel(families, g.family));
    b.type = "button";
    b.setAttribute("role", "menuitem");
    b.dataset.target = g.id;
    if (g.id === current) {
      b.classList.add("vb-move-option--current");
      b.setAttribute("aria-current", "true");
      b.textContent = groupTitle(g) + " (current)";
    }
    options.push(b);
  }
  const nb = h("button", "vb-move-option vb-move-new", "+ New full-rank group");
  nb.type = "button";
  nb.setAttribute("role", "menuitem");
  nb.dataset.target = NEW_GROUP;
  options.push(nb);
  for (const b of options) {
    b.tabIndex = -1;
    b.addEventListener("click", (ev) => {
      ev.stopPropagation();
      choose(ctx, variable, b.dataset.target);
    });
    b.addEventListener("keydown", (ev) => menuKey(ctx, ev, options, b));
    m.appendChild(b);
  }
  chip.after(m);
  ctx.menu = { el: m, variable, chip };
  const first = options.find((b) => b.dataset.target !== current) || options[0];
  first.tabIndex = 0;
  first.focus({ preventScroll: true });
  // the whole menu on screen (it sits in the chip's column, which the grid keeps in view)
  if (m.scrollIntoView) m.scrollIntoView({ block: "nearest", inline: "nearest" });
}

function menuKey(ctx, ev, options, b) {
  if (ev.key === "Escape") {
    ev.preventDefault();
    closeMenu(ctx, true);
    return;
  }
  if (ev.key === "Tab") {
    closeMenu(ctx, false);
    return;
  }
  const j = menuStep(ev.key, options.indexOf(b), options.length);
  if (j === null) return;
  ev.preventDefault();
  b.tabIndex = -1;
  options[j].tabIndex = 0;
  options[j].focus();
}

function choose(ctx, variable, target) {
  closeMenu(ctx, false);
  ctx.focusAfterRender = chipSel(variable);
  if (target === NEW_GROUP) {
    ctx.send({ kind: "new_group", variable, family: "full_rank" });
    ctx.say(`${variable} moved to a new full-rank group`);
  } else if (target !== groupOf(ctx.view(), variable)) {
    ctx.send({ kind: "move", variable, group: target });
    ctx.say(`${variable} moved to ${target === "rest" ? "the rest group" : "group " + target}`);
  } else {
    refocus(ctx);
  }
}

export function closeMenu(ctx, returnFocus) {
  if (!ctx.menu) return;
  const { el: m, chip } = ctx.menu;
  ctx.menu = null;
  m.remove();
  if (returnFocus && chip.isConnected) chip.focus();
}
