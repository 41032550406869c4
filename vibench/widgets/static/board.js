// vibench board: variable chips in group columns, family pickers, flow-stack editors.
//
// One self-contained ES module (anywidget loads it from a Blob URL: no imports).
// State comes from Python traits (variables, groups, families, flow_names, errors,
// notice, running); every edit is sent to Python as a message and Python answers by
// updating the traits, so the session stays the single source of truth.
//
// Names from the model are untrusted: they are only ever written with textContent.

const DRAG_THRESHOLD = 4; // px the pointer moves before a press becomes a drag
const DEFAULT_FLOW = "scale-planar*2-loc";
const FLOW_HELP = {
  planar: "planar: z + u·tanh(wᵀz + b), bends along one direction",
  radial: "radial: contracts/expands around a point",
  hh: "Householder: a reflection (rotates the space, volume kept)",
  scale: "scale: multiplies each coordinate (diagonal)",
  loc: "loc: shifts every coordinate",
};
const FLOW_LABEL = { hh: "Householder" };

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function shapeText(shape, dims) {
  if (!shape || shape.length === 0) return "scalar";
  if (dims && dims.length === shape.length && dims.some((d) => d)) {
    // the model's coordinate names: "pred: 3", or "school: 8, 2" for an unnamed axis
    return "(" + shape.map((n, i) => (dims[i] ? `${dims[i]}: ${n}` : String(n))).join(", ") + ")";
  }
  return "(" + shape.join(", ") + (shape.length === 1 ? ",)" : ")");
}

// ---------------------------------------------------------------- flow formulas
// Mirrors vibench.engine.flows.parse_formula / format_formula for instant feedback;
// Python re-checks every formula through the session.
export function parseFormula(text, names) {
  const clean = String(text).replace(/\s+/g, "").toLowerCase();
  if (!clean) return { error: "the stack is empty: add at least one flow" };
  const steps = [];
  for (const token of clean.split("-")) {
    if (!token) return { error: "empty step (two '-' in a row, or a '-' at an end)" };
    const parts = token.split("*");
    if (parts.length > 2) return { error: `'${token}': write name*N with one '*'` };
    const name = parts[0];
    if (!names.includes(name)) {
      return { error: `unknown flow '${name}'; use one of ${names.join(", ")}` };
    }
    let count = 1;
    if (parts.length === 2) {
      if (!/^\d+$/.test(parts[1]) || parseInt(parts[1], 10) < 1) {
        return { error: `'${token}': the repeat count after '*' must be a whole number >= 1` };
      }
      count = parseInt(parts[1], 10);
    }
    steps.push({ name, count });
  }
  return { steps };
}

export function formatSteps(steps) {
  const merged = [];
  for (const s of steps) {
    const last = merged[merged.length - 1];
    if (last && last.name === s.name) last.count += s.count;
    else merged.push({ name: s.name, count: s.count });
  }
  return merged.map((s) => (s.count === 1 ? s.name : `${s.name}*${s.count}`)).join("-");
}

function isFlowFamily(family, families) {
  return !families.some((f) => f.value === family && f.value !== "flow");
}

// ---------------------------------------------------------------- the widget
function render({ model, el }) {
  const root = h("div", "vb-board");
  root.setAttribute("role", "region");
  root.setAttribute("aria-label", "Variational groups");
  root.tabIndex = -1; // the last place focus can return to after a re-render
  el.appendChild(root);
  // Keys pressed on the board are the board's: JupyterLab listens for its shortcuts on
  // document in the bubbling phase (notebook command mode: m, b, arrows...), so stop
  // plain keys here, after the board's own handlers ran. Keys with Ctrl/Meta/Alt still
  // reach the application (save, command palette, run cell).
  root.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey || ev.altKey)) ev.stopPropagation();
  });
  // "f" anywhere on the board (not while typing) jumps to the workbench's Fit button
  // (Stop while a fit runs): the short keyboard path from the chips to Fit.
  root.addEventListener("keydown", (ev) => {
    if (ev.key !== "f" || ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
    const t = ev.target;
    if (t && t.closest && t.closest("input, textarea, select, [contenteditable='true']")) return;
    if (drag) return;
    const target = fitControl();
    if (!target) return;
    ev.preventDefault();
    target.focus();
  });
  const workbench = () => el.closest(".vb-workbench");
  function fitControl() {
    const wb = workbench();
    if (!wb) return null;
    const fit = wb.querySelector("button.vb-fit");
    const stop = wb.querySelector("button.vb-stop");
    if (fit && !fit.disabled) return fit;
    if (stop && !stop.disabled) return stop;
    return fit || null;
  }
  const stopKeepingFocus = keepFitFocus(workbench, fitControl);
  // the board's width, for plots drawn as wide as the cell (readable text at any width).
  // Only a narrow cell is reported (0 means "wide enough for the full-size plots"), and
  // only a change of 40 px or more (not a scroll bar coming and going).
  let sentWidth = model.get("width") || 0;
  const resize = new ResizeObserver(() => {
    const w = Math.round(root.clientWidth);
    if (w <= 0) return;
    const narrow = w >= 1000 ? 0 : w;
    if ((narrow === 0) !== (sentWidth === 0) || Math.abs(narrow - sentWidth) >= 40) {
      sentWidth = narrow;
      model.set("width", narrow);
      model.save_changes();
    }
  });
  resize.observe(root);
  const live = h("div", "vb-live");
  live.setAttribute("aria-live", "polite");

  let drag = null; // {variable, chip, ghost, startX, startY, pointerId, active}
  let view = null; // planView() of the last draw
  let pendingRender = false;
  let focusAfterRender = null; // a selector (or a list, first usable wins) to refocus after a re-render
  let menu = null;
  const localErrors = {}; // group id -> message from the editor's own checks

  const send = (msg) => model.send(msg);

  function say(text) {
    live.textContent = "";
    live.textContent = text;
  }

  // controls an instructor hid or locked (Python refuses their actions too)
  const hidden = (name) => (model.get("hidden") || []).includes(name);
  const locked = (name) => (model.get("locked") || []).includes(name);
  const LOCKED_TITLE = "Locked for this exercise";

  function groupTitle(g) {
    return g.id === "rest" ? "Rest" : "Group " + g.id;
  }

  // ---------------------------------------------------------- chips
  // `g`: the group the chip sits in (none for the discrete list)
  function chipFor(v, g) {
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
    if (hidden("groups") || locked("groups")) {
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
    chip.addEventListener("pointerdown", (ev) => onPointerDown(ev, v.name, chip));
    chip.addEventListener("keydown", (ev) => onChipKey(ev, v.name, chip));
    return chip;
  }

  // ---------------------------------------------------------- pointer drag
  function onPointerDown(ev, variable, chip) {
    if (ev.button !== undefined && ev.button !== 0) return;
    closeMenu(false);
    drag = {
      variable,
      chip,
      ghost: null,
      startX: ev.clientX,
      startY: ev.clientY,
      pointerId: ev.pointerId,
      active: false,
    };
    try {
      chip.setPointerCapture(ev.pointerId);
    } catch (_) {
      /* synthetic events may have no capturable pointer */
    }
    chip.addEventListener("pointermove", onPointerMove);
    chip.addEventListener("pointerup", onPointerUp);
    chip.addEventListener("pointercancel", onPointerCancel);
    document.addEventListener("keydown", onDragKey, true);
  }

  // Escape during a drag cancels it: the chip stays where it was, nothing is sent.
  function onDragKey(ev) {
    if (!drag || ev.key !== "Escape") return;
    ev.preventDefault();
    ev.stopPropagation();
    const { variable, active, chip } = drag;
    endDrag();
    if (active) say(`moving ${variable} cancelled`);
    const c = chip.isConnected ? chip : root.querySelector(chipSel(variable));
    if (c) c.focus();
  }

  function dropTargetAt(x, y) {
    const hit = document.elementFromPoint(x, y);
    if (!hit || !root.contains(hit)) return null;
    return hit.closest(".vb-new-group, .vb-group[data-group]:not(.vb-group--custom)");
  }

  function onPointerMove(ev) {
    if (!drag || ev.pointerId !== drag.pointerId) return;
    const dx = ev.clientX - drag.startX;
    const dy = ev.clientY - drag.startY;
    if (!drag.active) {
      if (Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
      drag.active = true;
      const ghost = drag.chip.cloneNode(true);
      ghost.classList.add("vb-ghost");
      ghost.removeAttribute("data-var");
      ghost.setAttribute("aria-hidden", "true");
      const r = drag.chip.getBoundingClientRect();
      ghost.style.width = r.width + "px";
      drag.offX = drag.startX - r.left;
      drag.offY = drag.startY - r.top;
      root.appendChild(ghost);
      drag.ghost = ghost;
      drag.chip.classList.add("vb-chip--dragging");
      root.classList.add("vb-board--dragging");
    }
    ev.preventDefault();
    drag.ghost.style.left = ev.clientX - drag.offX + "px";
    drag.ghost.style.top = ev.clientY - drag.offY + "px";
    const target = dropTargetAt(ev.clientX, ev.clientY);
    for (const t of root.querySelectorAll(".vb-drop-target")) {
      if (t !== target) t.classList.remove("vb-drop-target");
    }
    if (target) target.classList.add("vb-drop-target");
  }

  function endDrag() {
    if (!drag) return;
    const { chip } = drag;
    chip.removeEventListener("pointermove", onPointerMove);
    chip.removeEventListener("pointerup", onPointerUp);
    chip.removeEventListener("pointercancel", onPointerCancel);
    document.removeEventListener("keydown", onDragKey, true);
    try {
      chip.releasePointerCapture(drag.pointerId);
    } catch (_) {
      /* already released */
    }
    if (drag.ghost) drag.ghost.remove();
    chip.classList.remove("vb-chip--dragging");
    root.classList.remove("vb-board--dragging");
    for (const t of root.querySelectorAll(".vb-drop-target")) t.classList.remove("vb-drop-target");
    drag = null;
    if (pendingRender) {
      pendingRender = false;
      draw();
    }
  }

  function onPointerUp(ev) {
    if (!drag || ev.pointerId !== drag.pointerId) return;
    const { variable, active } = drag;
    const target = active ? dropTargetAt(ev.clientX, ev.clientY) : null;
    endDrag();
    if (!active) return; // a click: keep focus on the chip
    if (!target) return;
    if (target.classList.contains("vb-new-group")) {
      send({ kind: "new_group", variable, family: "full_rank" });
      say(`${variable} moved to a new full-rank group`);
    } else {
      const gid = target.dataset.group;
      if (gid && groupOf(variable) !== gid) {
        send({ kind: "move", variable, group: gid });
        say(`${variable} moved to ${gid === "rest" ? "the rest group" : "group " + gid}`);
      }
    }
  }

  function onPointerCancel() {
    endDrag();
  }

  function groupOf(variable) {
    for (const g of (view || planView()).groups) {
      if (g.variables.includes(variable)) return g.id;
    }
    return null;
  }

  // The plan as it will be once the edits queued during a fit are applied: the board
  // shows that, with the queued parts marked pending, so an edit never looks rejected.
  function planView() {
    const details = model.get("group_details") || {};
    const groups = (model.get("groups") || []).map((g) => ({
      ...(details[g.id] || {}),
      ...g,
      variables: [...g.variables],
    }));
    const added = []; // new groups not created yet: {family, variables}
    const v = { groups, added, vars: new Set(), families: new Set(), removing: new Set() };
    const take = (name) => {
      for (const g of [...groups, ...added]) g.variables = g.variables.filter((x) => x !== name);
    };
    for (const a of model.get("queued") || []) {
      if (a.kind === "move" && typeof a.variable === "string") {
        const g = groups.find((x) => x.id === a.group);
        if (!g) continue;
        take(a.variable);
        g.variables.push(a.variable);
        v.vars.add(a.variable);
      } else if (a.kind === "new_group") {
        const vars = typeof a.variable === "string" ? [a.variable] : [];
        for (const n of vars) {
          take(n);
          v.vars.add(n);
        }
        added.push({ family: String(a.family), variables: vars });
      } else if (a.kind === "set_family") {
        const g = groups.find((x) => x.id === a.group);
        if (g) {
          g.family = String(a.family);
          v.families.add(g.id);
        }
      } else if (a.kind === "set_rowwise") {
        const g = groups.find((x) => x.id === a.group);
        if (g) {
          g.rowwise = a.rowwise === true;
          v.families.add(g.id);
        }
      } else if (a.kind === "remove_group") {
        v.removing.add(a.group);
      }
    }
    return v;
  }

  function pendingBadge(title) {
    const b = h("span", "vb-pending-badge", "pending");
    b.title = title;
    return b;
  }

  // ---------------------------------------------------------- keyboard path
  function onChipKey(ev, variable, chip) {
    if (ev.key === "Enter" || ev.key === " " || ev.key === "ArrowDown") {
      ev.preventDefault();
      openMenu(variable, chip);
    }
  }

  function openMenu(variable, chip) {
    closeMenu(false);
    const m = h("div", "vb-move-menu");
    m.setAttribute("role", "menu");
    m.setAttribute("aria-label", `Move ${variable} to`);
    m.appendChild(h("div", "vb-move-title", `Move ${variable} to:`));
    const current = groupOf(variable);
    const options = [];
    for (const g of model.get("groups")) {
      if (((model.get("group_details") || {})[g.id] || {}).custom) continue; // built in Python
      const b = h("button", "vb-move-option", groupTitle(g) + " · " + familyLabel(g.family));
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
    nb.dataset.target = "__new__";
    options.push(nb);
    for (const b of options) {
      b.tabIndex = -1;
      b.addEventListener("click", (ev) => {
        ev.stopPropagation();
        choose(variable, b.dataset.target);
      });
      b.addEventListener("keydown", (ev) => menuKey(ev, options, b));
      m.appendChild(b);
    }
    chip.after(m);
    menu = { el: m, variable, chip };
    const first = options.find((b) => b.dataset.target !== current) || options[0];
    first.tabIndex = 0;
    first.focus({ preventScroll: true });
    // the whole menu on screen (it sits in the chip's column, which the grid keeps in view)
    if (m.scrollIntoView) m.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  function menuKey(ev, options, b) {
    const i = options.indexOf(b);
    let next = null;
    if (ev.key === "ArrowDown") next = options[(i + 1) % options.length];
    else if (ev.key === "ArrowUp") next = options[(i - 1 + options.length) % options.length];
    else if (ev.key === "Home") next = options[0];
    else if (ev.key === "End") next = options[options.length - 1];
    else if (ev.key === "Escape") {
      ev.preventDefault();
      closeMenu(true);
      return;
    } else if (ev.key === "Tab") {
      closeMenu(false);
      return;
    }
    if (next) {
      ev.preventDefault();
      b.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    }
  }

  function choose(variable, target) {
    closeMenu(false);
    focusAfterRender = `.vb-chip[data-var="${cssEscape(variable)}"]`;
    if (target === "__new__") {
      send({ kind: "new_group", variable, family: "full_rank" });
      say(`${variable} moved to a new full-rank group`);
    } else if (target !== groupOf(variable)) {
      send({ kind: "move", variable, group: target });
      say(`${variable} moved to ${target === "rest" ? "the rest group" : "group " + target}`);
    } else {
      refocus();
    }
  }

  function closeMenu(returnFocus) {
    if (!menu) return;
    const { el: m, chip } = menu;
    menu = null;
    m.remove();
    if (returnFocus && chip.isConnected) chip.focus();
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&");
  }

  function refocus() {
    if (!focusAfterRender) return;
    const sels = focusAfterRender;
    focusAfterRender = null;
    focusFirst(sels);
  }

  function chipSel(variable) {
    return `.vb-chip[data-var="${cssEscape(variable)}"]`;
  }

  function groupSel(id) {
    return `.vb-group[data-group="${cssEscape(id)}"]`;
  }

  // Focus the first of `sels` (a selector or a list) that exists and can take focus;
  // the board itself when none can, so the keyboard stays on the board.
  function focusFirst(sels) {
    for (const sel of [].concat(sels)) {
      const t = sel && root.querySelector(sel);
      if (t && !t.disabled && t.getClientRects().length) {
        t.focus();
        return true;
      }
    }
    root.focus();
    return false;
  }

  // Selectors that find the focused control `el` again after a re-render (best first).
  function focusKey(el) {
    if (!el || el === root || !root.contains(el)) return null;
    if (el.matches(".vb-chip[data-var]")) return [chipSel(el.dataset.var)];
    if (menu && menu.el.contains(el)) return [chipSel(menu.variable)];
    if (el.matches(".vb-new-group")) return [".vb-new-group"];
    const col = el.closest(".vb-group[data-group]");
    if (!col) return [".vb-new-group"];
    const g = groupSel(col.dataset.group);
    const fallback = [`${g} .vb-flow-formula`, `${g} select.vb-family`, ".vb-new-group"];
    const step = el.closest(".vb-flow-step");
    if (step) {
      const st = `${g} .vb-flow-step[data-index="${step.dataset.index}"]`;
      const cls = ["vb-flow-up", "vb-flow-down", "vb-flow-remove", "vb-flow-repeat"].find((c) =>
        el.classList.contains(c)
      );
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

  // ---------------------------------------------------------- families
  function familyLabel(family) {
    const fams = model.get("families");
    const f = fams.find((x) => x.value === family);
    if (f && f.value !== "flow") return f.label;
    return "flow " + family;
  }

  function familySelect(g) {
    const fams = model.get("families");
    if (hidden("families")) {
      return h("div", "vb-family-label", familyLabel(g.family));
    }
    const sel = h("select", "vb-family");
    if (locked("families")) {
      sel.disabled = true;
      sel.title = LOCKED_TITLE;
    }
    sel.setAttribute("aria-label", `Variational family of ${groupTitle(g).toLowerCase()}`);
    const flow = isFlowFamily(g.family, fams);
    for (const f of fams) {
      const o = h("option", null, f.label);
      o.value = f.value;
      if (f.title) o.title = f.title;
      if (f.disabled) o.disabled = true;
      if ((flow && f.value === "flow") || (!flow && f.value === g.family)) o.selected = true;
      sel.appendChild(o);
    }
    sel.addEventListener("change", () => {
      const value = sel.value === "flow" ? DEFAULT_FLOW : sel.value;
      delete localErrors[g.id];
      focusAfterRender = `.vb-group[data-group="${cssEscape(g.id)}"] select.vb-family`;
      send({ kind: "set_family", group: g.id, family: value });
    });
    return sel;
  }

  // ---------------------------------------------------------- flow editor
  function flowEditor(g) {
    const names = model.get("flow_names");
    const ed = h("div", "vb-flow-editor");
    ed.setAttribute("role", "group");
    ed.setAttribute("aria-label", `Flow stack of ${groupTitle(g).toLowerCase()}`);
    const parsed = parseFormula(g.family, names);
    const steps = parsed.steps || [];
    const sendSteps = (next, focusSel) => {
      if (next.length === 0) {
        localErrors[g.id] = "A flow group needs at least one flow: add one before removing this.";
        draw();
        return;
      }
      delete localErrors[g.id];
      const gs = groupSel(g.id);
      focusAfterRender = focusSel
        ? [].concat(focusSel).map((f) => `${gs} ${f}`).concat([`${gs} .vb-flow-formula`])
        : null;
      send({ kind: "set_family", group: g.id, family: formatSteps(next) });
    };

    ed.appendChild(h("div", "vb-flow-caption", "Flow stack, applied top to bottom to N(0,\u00a0I):"));
    const list = h("ol", "vb-flow-steps");
    steps.forEach((s, i) => {
      const li = h("li", "vb-flow-step");
      li.dataset.index = String(i);
      li.dataset.flow = s.name;
      const name = h("span", "vb-flow-name", FLOW_LABEL[s.name] || s.name);
      name.title = FLOW_HELP[s.name] || s.name;
      li.appendChild(name);
      const rep = h("input", "vb-flow-repeat");
      rep.type = "number";
      rep.min = "1";
      rep.max = "64";
      rep.value = String(s.count);
      rep.setAttribute("aria-label", `repeat count of ${s.name} (step ${i + 1})`);
      rep.title = "how many times this flow is applied";
      const commitRepeat = () => {
        const n = parseInt(rep.value, 10);
        if (n === s.count) return;
        if (!Number.isFinite(n) || n < 1 || n > 64) {
          localErrors[g.id] = "A repeat count is a whole number from 1 to 64.";
          draw();
          return;
        }
        const next = steps.map((x) => ({ ...x }));
        next[i].count = n;
        sendSteps(next, `.vb-flow-step[data-index="${i}"] .vb-flow-repeat`);
      };
      rep.addEventListener("change", commitRepeat);
      rep.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") {
          ev.preventDefault();
          commitRepeat();
        }
      });
      li.appendChild(h("span", "vb-flow-times", "×"));
      li.appendChild(rep);
      const btn = (cls, text, label, disabled, fn) => {
        const b = h("button", "vb-icon-button " + cls, text);
        b.type = "button";
        b.title = label;
        b.setAttribute("aria-label", `${label} (${s.name}, step ${i + 1})`);
        b.disabled = disabled;
        b.addEventListener("click", fn);
        li.appendChild(b);
      };
      btn("vb-flow-up", "↑", "Move up", i === 0, () => {
        const next = steps.map((x) => ({ ...x }));
        [next[i - 1], next[i]] = [next[i], next[i - 1]];
        const st = `.vb-flow-step[data-index="${i - 1}"]`;
        sendSteps(next, [`${st} .vb-flow-up`, `${st} .vb-flow-down`]);
      });
      btn("vb-flow-down", "↓", "Move down", i === steps.length - 1, () => {
        const next = steps.map((x) => ({ ...x }));
        [next[i + 1], next[i]] = [next[i], next[i + 1]];
        const st = `.vb-flow-step[data-index="${i + 1}"]`;
        sendSteps(next, [`${st} .vb-flow-down`, `${st} .vb-flow-up`]);
      });
      btn("vb-flow-remove", "✕", "Remove", false, () => {
        const k = Math.min(i, steps.length - 2);
        sendSteps(steps.filter((_, j) => j !== i), [
          `.vb-flow-step[data-index="${k}"] .vb-flow-remove`,
          ".vb-flow-palette button",
        ]);
      });
      list.appendChild(li);
    });
    ed.appendChild(list);

    const pal = h("div", "vb-flow-palette");
    pal.setAttribute("role", "group");
    pal.setAttribute("aria-label", "Add a flow");
    pal.appendChild(h("span", "vb-flow-palette-label", "Add:"));
    for (const n of names) {
      const b = h("button", "vb-flow-add", "+ " + (FLOW_LABEL[n] || n));
      b.type = "button";
      b.dataset.flow = n;
      b.title = FLOW_HELP[n] || n;
      b.addEventListener("click", () =>
        sendSteps([...steps, { name: n, count: 1 }], `.vb-flow-add[data-flow="${cssEscape(n)}"]`)
      );
      pal.appendChild(b);
    }
    ed.appendChild(pal);

    const row = h("label", "vb-flow-formula-row");
    row.appendChild(h("span", "vb-flow-formula-label", "Formula"));
    const input = h("input", "vb-flow-formula");
    input.type = "text";
    input.value = g.family;
    input.spellcheck = false;
    input.setAttribute("aria-label", `flow formula of ${groupTitle(g).toLowerCase()}`);
    input.title = "e.g. scale-hh*2-planar-loc: tokens joined by '-', name*N repeats";
    const commit = () => {
      const text = input.value;
      if (text.replace(/\s+/g, "").toLowerCase() === g.family) {
        if (localErrors[g.id]) {
          delete localErrors[g.id];
          draw();
        }
        return;
      }
      const p = parseFormula(text, names);
      if (p.error) {
        localErrors[g.id] = "Formula not applied: " + p.error + ".";
        focusAfterRender = `.vb-group[data-group="${cssEscape(g.id)}"] .vb-flow-formula`;
        draw(text);
        return;
      }
      delete localErrors[g.id];
      focusAfterRender = `.vb-group[data-group="${cssEscape(g.id)}"] .vb-flow-formula`;
      send({ kind: "set_family", group: g.id, family: text });
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        commit();
      } else if (ev.key === "Escape") {
        input.value = g.family;
        delete localErrors[g.id];
        draw();
      }
    });
    input.addEventListener("change", commit);
    row.appendChild(input);
    ed.appendChild(row);
    if (locked("flow_editor") || locked("families") || hidden("families")) {
      ed.classList.add("vb-flow-editor--locked");
      for (const c of ed.querySelectorAll("button, input")) {
        c.disabled = true;
        c.title = LOCKED_TITLE;
      }
    }
    return ed;
  }

  // ---------------------------------------------------------- groups
  function groupColumn(g, byName) {
    const col = h("section", "vb-group");
    col.dataset.group = g.id;
    if (g.id === "rest") col.classList.add("vb-group--rest");
    if (g.custom) col.classList.add("vb-group--custom");
    if (g.rowwise) col.classList.add("vb-group--rowwise");
    col.setAttribute("aria-label", groupTitle(g) + (g.custom ? ", built in Python (read-only)" : ""));
    const head = h("header", "vb-group-head");
    head.appendChild(h("span", "vb-group-title", groupTitle(g)));
    const dims = g.variables.reduce((a, n) => a + ((byName[n] && byName[n].size) || 0), 0);
    head.appendChild(
      h(
        "span",
        "vb-group-count",
        g.variables.length === 0
          ? "empty"
          : g.rowwise
            ? `row-wise · ${g.rows === null || g.rows === undefined ? "?" : g.rows} rows`
            : `${g.variables.length} var · ${dims} dim`
      )
    );
    if (view && view.families.has(g.id)) {
      col.classList.add("vb-group--pending");
      head.appendChild(pendingBadge("This family is used from the next fit (a fit is running)"));
    }
    if (view && view.removing.has(g.id)) {
      col.classList.add("vb-group--removing");
      const b = pendingBadge("This group is removed when the running fit ends");
      b.textContent = "removed after the fit";
      head.appendChild(b);
    }
    if (g.id !== "rest" && !g.custom && !hidden("groups")) {
      const rm = h("button", "vb-icon-button vb-remove-group", "✕");
      rm.type = "button";
      rm.title =
        g.variables.length === 0
          ? "Remove this empty group"
          : "Remove this group (its variables go back to the rest group)";
      rm.setAttribute("aria-label", `Remove group ${g.id}`);
      rm.addEventListener("click", () => {
        focusAfterRender = ".vb-new-group";
        send({ kind: "remove_group", group: g.id });
        say(`group ${g.id} removed`);
      });
      if (locked("groups")) {
        rm.disabled = true;
        rm.title = LOCKED_TITLE;
      }
      head.appendChild(rm);
    }
    col.appendChild(head);
    if (g.custom) {
      const label = h("div", "vb-family-label vb-custom-label", g.label || g.family);
      label.title = "Built in Python (Session.add_custom_group): read-only on the board";
      col.appendChild(label);
      col.appendChild(h("div", "vb-group-hint", "built in Python · read-only"));
    } else {
      col.appendChild(familySelect(g));
    }
    if (g.id !== "rest" && !g.custom) col.appendChild(rowwiseToggle(g));
    if (g.id === "rest") {
      col.appendChild(h("div", "vb-group-hint", "Every variable in no other group"));
    }
    if (!g.custom && isFlowFamily(g.family, model.get("families"))) {
      if (hidden("flow_editor")) col.appendChild(h("div", "vb-flow-formula-text", g.family));
      else col.appendChild(flowEditor(g));
    }
    const err = localErrors[g.id] || (model.get("errors") || {})[g.id];
    if (err) {
      const e = h("div", "vb-error", err);
      e.setAttribute("role", "alert");
      col.appendChild(e);
    }
    const body = h("div", "vb-group-body");
    for (const n of g.variables) {
      if (byName[n]) body.appendChild(pendingChip(byName[n], g));
    }
    if (g.variables.length === 0) {
      body.appendChild(h("div", "vb-empty", g.id === "rest" ? "Nothing left here" : "Drop variables here"));
    }
    col.appendChild(body);
    return col;
  }

  // A chip, marked pending when a queued move puts it here.
  function pendingChip(v, g) {
    const chip = chipFor(v, g);
    if (view && view.vars.has(v.name)) {
      chip.classList.add("vb-chip--pending");
      chip.dataset.pending = "true";
      chip.appendChild(pendingBadge("Moves here when the running fit ends"));
    }
    return chip;
  }

  // The row-wise switch: one approximation per row of the variables' first axis.
  function rowwiseToggle(g) {
    const b = h("button", "vb-rowwise", "row-wise");
    b.type = "button";
    b.setAttribute("aria-pressed", g.rowwise ? "true" : "false");
    b.setAttribute("aria-label", `Row-wise: one approximation per row (${groupTitle(g).toLowerCase()})`);
    if (g.rowwise_ok === false) {
      b.disabled = true;
      b.title = g.rowwise_why || "This group cannot be row-wise";
    } else {
      b.title = g.rowwise
        ? "Row-wise: every row of the first axis has its own approximation (click to turn off)"
        : "Give every row of the first axis its own, independent approximation";
    }
    if (locked("families") || hidden("families")) {
      b.disabled = true;
      b.title = LOCKED_TITLE;
    }
    b.addEventListener("click", () => {
      const next = !g.rowwise;
      delete localErrors[g.id];
      focusAfterRender = `${groupSel(g.id)} .vb-rowwise`;
      send({ kind: "set_rowwise", group: g.id, rowwise: next });
      say(`group ${g.id} row-wise ${next ? "on" : "off"}`);
    });
    return b;
  }

  // A group queued during a fit: shown, not yet a drop target (it has no id yet).
  function pendingColumn(a, byName) {
    const col = h("section", "vb-group vb-group--pending vb-group--new-pending");
    col.dataset.pendingGroup = "true";
    col.setAttribute("aria-label", "New group, created when the running fit ends");
    const head = h("header", "vb-group-head");
    head.appendChild(h("span", "vb-group-title", "New group"));
    head.appendChild(pendingBadge("Created when the running fit ends"));
    col.appendChild(head);
    col.appendChild(h("div", "vb-family-label", familyLabel(a.family)));
    const body = h("div", "vb-group-body");
    for (const n of a.variables) if (byName[n]) body.appendChild(pendingChip(byName[n]));
    if (a.variables.length === 0) body.appendChild(h("div", "vb-empty", "empty"));
    col.appendChild(body);
    return col;
  }

  function newGroupZone() {
    const z = h("button", "vb-new-group");
    z.type = "button";
    z.appendChild(h("span", "vb-new-group-plus", "+"));
    z.appendChild(h("span", "vb-new-group-text", "New group"));
    z.appendChild(h("span", "vb-new-group-hint", "drop a variable here, or click for an empty one"));
    z.setAttribute("aria-label", "Create a new empty full-rank group");
    if (locked("groups")) {
      z.disabled = true;
      z.title = LOCKED_TITLE;
      return z;
    }
    z.addEventListener("click", () => {
      send({ kind: "new_group", variable: null, family: "full_rank" });
      say("new empty group created");
    });
    return z;
  }

  // ---------------------------------------------------------- drawing
  function draw(keepFormulaText) {
    if (drag && drag.active) {
      pendingRender = true;
      return;
    }
    // Focus survives the redraw: the control the last board action asked for, else the
    // equivalent of the focused one. Never taken from outside the board.
    const active = document.activeElement;
    const onBoard = active && (root.contains(active) || active === document.body);
    let restoreSel = onBoard ? focusAfterRender : null;
    if (!restoreSel && active && root.contains(active)) restoreSel = focusKey(active);
    if (!onBoard) focusAfterRender = null;
    closeMenu(false);
    const variables = model.get("variables") || [];
    view = planView();
    const groups = view.groups;
    const byName = {};
    for (const v of variables) byName[v.name] = v;
    root.replaceChildren();
    const top = h("div", "vb-board-top");
    top.appendChild(h("span", "vb-board-title", "Groups"));
    top.appendChild(
      h(
        "span",
        "vb-board-help",
        hidden("groups") || locked("groups")
          ? "The groups are set for this exercise. Press f to go to Fit."
          : "Drag a variable (or focus it and press Enter) to put it in a group; each group gets its own family. Press f to go to Fit."
      )
    );
    if (model.get("running")) {
      top.appendChild(h("span", "vb-badge", "fitting · edits apply to the next fit"));
    }
    root.appendChild(top);
    const notice = model.get("notice");
    if (notice) {
      const info = model.get("notice_level") === "info";
      const n = h("div", (info ? "vb-info" : "vb-error") + " vb-notice", notice);
      n.setAttribute("role", info ? "status" : "alert");
      root.appendChild(n);
    }
    const cols = h("div", "vb-columns");
    const ordered = [...groups.filter((g) => g.id !== "rest"), ...groups.filter((g) => g.id === "rest")];
    for (const g of ordered) {
      if (g.id === "rest") for (const a of view.added) cols.appendChild(pendingColumn(a, byName));
      cols.appendChild(groupColumn(g, byName));
    }
    if (!hidden("groups")) cols.appendChild(newGroupZone());
    root.appendChild(cols);
    const discrete = variables.filter((v) => v.discrete);
    if (discrete.length) {
      const d = h("div", "vb-discrete");
      d.appendChild(h("span", "vb-discrete-label", "Not fitted (discrete):"));
      for (const v of discrete) d.appendChild(chipFor(v));
      d.appendChild(
        h("span", "vb-discrete-why", "VI here fits continuous variables only; these cannot be dragged.")
      );
      root.appendChild(d);
    }
    root.appendChild(live);
    if (keepFormulaText !== undefined && restoreSel) {
      const t = root.querySelector([].concat(restoreSel)[0]);
      if (t && t.matches(".vb-flow-formula")) t.value = keepFormulaText;
    }
    if (restoreSel) {
      focusAfterRender = null;
      focusFirst(restoreSel);
    }
  }

  const onChange = () => draw();
  const traits = [
    "variables",
    "groups",
    "group_details",
    "families",
    "flow_names",
    "errors",
    "notice",
    "running",
    "revision",
    "notice_level",
    "hidden",
    "locked",
    "queued",
  ];
  for (const t of traits) model.on("change:" + t, onChange);
  const onDocPointer = (ev) => {
    if (menu && !menu.el.contains(ev.target)) closeMenu(false);
  };
  document.addEventListener("pointerdown", onDocPointer, true);
  draw();
  return () => {
    for (const t of traits) model.off("change:" + t, onChange);
    document.removeEventListener("pointerdown", onDocPointer, true);
    stopKeepingFocus();
    resize.disconnect();
    endDrag();
  };
}

// Focus stays on the Fit/Stop control pressed. Fit is disabled while a fit runs and
// Stop when it ends: a focused button that becomes disabled drops the focus to the
// page (a keyboard user would have to Tab ~30 times back). When that happens to the
// Fit or Stop button the user was on, the focus moves to whichever of the two can be
// pressed now (Stop while running, Fit after). Focus the user moved elsewhere is
// never taken.
function keepFitFocus(workbench, fitControl) {
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
      !a || a === document.body || ((a.matches("button.vb-fit, button.vb-stop")) && a.disabled);
    if (!dropped) return;
    const target = fitControl();
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

export default { render };
