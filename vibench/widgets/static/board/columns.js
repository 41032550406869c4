// Group columns: a group's head (title, size, remove), its family picker, row-wise
// switch, flow editor, errors and chips; the columns of groups queued during a fit;
// and the new-group drop zone.
import { pendingChip } from "./chips.js";
import { LOCKED_TITLE, cssEscape, groupSel, groupTitle, h, pendingBadge } from "./dom.js";
import { flowEditor } from "./flow_editor.js";
import { defaultFlow, familyLabel } from "./plan.js";

// "empty", "2 var · 9 dim" or "row-wise · 8 rows"
export function groupCount(g, byName) {
  if (g.variables.length === 0) return "empty";
  if (g.rowwise) return `row-wise · ${g.rows === null || g.rows === undefined ? "?" : g.rows} rows`;
  const dims = g.variables.reduce((a, n) => a + ((byName[n] && byName[n].size) || 0), 0);
  return `${g.variables.length} var · ${dims} dim`;
}

export function groupColumn(ctx, g, byName) {
  const col = h("section", "vb-group");
  col.dataset.group = g.id;
  if (g.id === "rest") col.classList.add("vb-group--rest");
  if (g.custom) col.classList.add("vb-group--custom");
  if (g.rowwise) col.classList.add("vb-group--rowwise");
  col.setAttribute("aria-label", groupTitle(g) + (g.custom ? ", built in Python (read-only)" : ""));
  const head = h("header", "vb-group-head");
  head.appendChild(h("span", "vb-group-title", groupTitle(g)));
  head.appendChild(h("span", "vb-group-count", groupCount(g, byName)));
  if (g.pending_family) {
    col.classList.add("vb-group--pending");
    head.appendChild(pendingBadge("This family is used from the next fit (a fit is running)"));
  }
  if (g.removing) {
    col.classList.add("vb-group--removing");
    const b = pendingBadge("This group is removed when the running fit ends");
    b.textContent = "removed after the fit";
    head.appendChild(b);
  }
  if (g.id !== "rest" && !g.custom && !ctx.hidden("groups")) head.appendChild(removeButton(ctx, g));
  col.appendChild(head);
  if (g.custom) {
    const label = h("div", "vb-family-label vb-custom-label", g.label || g.family);
    label.title = "Built in Python (Session.add_custom_group): read-only on the board";
    col.appendChild(label);
    col.appendChild(h("div", "vb-group-hint", "built in Python · read-only"));
  } else {
    col.appendChild(familySelect(ctx, g));
  }
  if (g.id !== "rest" && !g.custom) col.appendChild(rowwiseToggle(ctx, g));
  if (g.id === "rest") {
    col.appendChild(h("div", "vb-group-hint", "Every variable in no other group"));
  }
  if (!g.custom && g.flow) {
    if (ctx.hidden("flow_editor")) col.appendChild(h("div", "vb-flow-formula-text", g.family));
    else col.appendChild(flowEditor(ctx, g));
  }
  const err = ctx.localErrors[g.id] || (ctx.model.get("errors") || {})[g.id];
  if (err) {
    const e = h("div", "vb-error", err);
    e.setAttribute("role", "alert");
    col.appendChild(e);
  }
  const body = h("div", "vb-group-body");
  for (const n of g.variables) {
    if (byName[n]) body.appendChild(pendingChip(ctx, byName[n], g));
  }
  if (g.variables.length === 0) {
    body.appendChild(h("div", "vb-empty", g.id === "rest" ? "Nothing left here" : "Drop variables here"));
  }
  col.appendChild(body);
  return col;
}

function removeButton(ctx, g) {
  const rm = h("button", "vb-icon-button vb-remove-group", "✕");
  rm.type = "button";
  rm.title =
    g.variables.length === 0
      ? "Remove this empty group"
      : "Remove this group (its variables go back to the rest group)";
  rm.setAttribute("aria-label", `Remove group ${g.id}`);
  rm.addEventListener("click", () => {
    ctx.focusAfterRender = ".vb-new-group";
    ctx.send({ kind: "remove_group", group: g.id });
    ctx.say(`group ${g.id} removed`);
  });
  if (ctx.locked("groups")) {
    rm.disabled = true;
    rm.title = LOCKED_TITLE;
  }
  return rm;
}

function familySelect(ctx, g) {
  const fams = ctx.model.get("families") || [];
  if (ctx.hidden("families")) {
    return h("div", "vb-family-label", familyLabel(fams, g.family));
  }
  const sel = h("select", "vb-family");
  if (ctx.locked("families")) {
    sel.disabled = true;
    sel.title = LOCKED_TITLE;
  }
  sel.setAttribute("aria-label", `Variational family of ${groupTitle(g).toLowerCase()}`);
  for (const f of fams) {
    const o = h("option", null, f.label);
    o.value = f.value;
    if (f.title) o.title = f.title;
    if (f.disabled) o.disabled = true;
    if ((g.flow && f.value === "flow") || (!g.flow && f.value === g.family)) o.selected = true;
    sel.appendChild(o);
  }
  sel.addEventListener("change", () => {
    const value = sel.value === "flow" ? defaultFlow(fams) || sel.value : sel.value;
    delete ctx.localErrors[g.id];
    ctx.focusAfterRender = `.vb-group[data-group="${cssEscape(g.id)}"] select.vb-family`;
    ctx.send({ kind: "set_family", group: g.id, family: value });
  });
  return sel;
}

// The row-wise switch: one approximation per row of the variables' first axis.
function rowwiseToggle(ctx, g) {
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
  if (ctx.locked("families") || ctx.hidden("families")) {
    b.disabled = true;
    b.title = LOCKED_TITLE;
  }
  b.addEventListener("click", () => {
    const next = !g.rowwise;
    delete ctx.localErrors[g.id];
    ctx.focusAfterRender = `${groupSel(g.id)} .vb-rowwise`;
    ctx.send({ kind: "set_rowwise", group: g.id, rowwise: next });
    ctx.say(`group ${g.id} row-wise ${next ? "on" : "off"}`);
  });
  return b;
}

// A group queued during a fit: shown, not yet a drop target (it has no id yet).
export function pendingColumn(ctx, a, byName) {
  const col = h("section", "vb-group vb-group--pending vb-group--new-pending");
  col.dataset.pendingGroup = "true";
  col.setAttribute("aria-label", "New group, created when the running fit ends");
  const head = h("header", "vb-group-head");
  head.appendChild(h("span", "vb-group-title", "New group"));
  head.appendChild(pendingBadge("Created when the running fit ends"));
  col.appendChild(head);
  col.appendChild(h("div", "vb-family-label", familyLabel(ctx.model.get("families"), a.family)));
  const body = h("div", "vb-group-body");
  for (const n of a.variables) if (byName[n]) body.appendChild(pendingChip(ctx, byName[n], a));
  if (a.variables.length === 0) body.appendChild(h("div", "vb-empty", "empty"));
  col.appendChild(body);
  return col;
}

export function newGroupZone(ctx) {
  const z = h("button", "vb-new-group");
  z.type = "button";
  z.appendChild(h("span", "vb-new-group-plus", "+"));
  z.appendChild(h("span", "vb-new-group-text", "New group"));
  z.appendChild(h("span", "vb-new-group-hint", "drop a variable here, or click for an empty one"));
  z.setAttribute("aria-label", "Create a new empty full-rank group");
  if (ctx.locked("groups")) {
    z.disabled = true;
    z.title = LOCKED_TITLE;
    return z;
  }
  z.addEventListener("click", () => {
    ctx.send({ kind: "new_group", variable: null, family: "full_rank" });
    ctx.say("new empty group created");
  });
  return z;
}
