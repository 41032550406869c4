// vibench board: variable chips in group columns, family pickers, flow-stack editors.
//
// The entry part of the board's ES module (vibench/widgets/_bundle.py puts the parts
// it imports before it; anywidget loads the one module from a Blob URL). State comes
// from Python traits (plan_view, variables, families, flow_names, errors, notice,
// running, ...); every edit is sent to Python as a message and Python answers by
// updating the traits, so the session stays the single source of truth.
//
// The parts share one context object per rendered view, `ctx`:
//   model, root           the anywidget model and the board's root element
//   send(msg), say(text)  a message to Python; a sentence for screen readers
//   draw()                redraw from the traits
//   view()                the plan view to draw (plan.js)
//   hidden(n), locked(n)  controls an instructor hid or locked
//   drag, pendingRender   the pointer drag going on (drag.js), a redraw it holds back
//   menu                  the open keyboard move menu (menu.js)
//   focusAfterRender      selector(s) to focus after the next redraw (focus.js)
//   localErrors, drafts   the editor's own messages and typed formulas (flow_editor.js)
import { chipFor } from "./chips.js";
import { groupColumn, newGroupZone, pendingColumn } from "./columns.js";
import { fitShortcut, keepFitFocus } from "./controls.js";
import { h } from "./dom.js";
import { endDrag } from "./drag.js";
import { focusFirst, focusKey } from "./focus.js";
import { closeMenu } from "./menu.js";
import { EMPTY_VIEW, columns } from "./plan.js";
import { reportWidth } from "./plots.js";

const TRAITS = [
  "plan_view",
  "variables",
  "families",
  "flow_names",
  "errors",
  "notice",
  "running",
  "revision",
  "notice_level",
  "hidden",
  "locked",
];

function render({ model, el }) {
  const root = h("div", "vb-board");
  root.setAttribute("role", "region");
  root.setAttribute("aria-label", "Variational groups");
  root.tabIndex = -1; // the last place focus can return to after a re-render
  el.appendChild(root);
  const live = h("div", "vb-live");
  live.setAttribute("aria-live", "polite");

  const ctx = {
    model,
    root,
    send: (msg) => model.send(msg),
    say(text) {
      live.textContent = "";
      live.textContent = text;
    },
    draw: () => draw(),
    view: () => model.get("plan_view") || EMPTY_VIEW,
    // controls an instructor hid or locked (Python refuses their actions too)
    hidden: (name) => (model.get("hidden") || []).includes(name),
    locked: (name) => (model.get("locked") || []).includes(name),
    drag: null,
    pendingRender: false,
    menu: null,
    focusAfterRender: null, // a selector (or a list, first usable wins)
    localErrors: {}, // group id -> message from the editor's own checks
    drafts: {}, // group id -> a typed formula sent to Python
  };

  // Keys pressed on the board are the board's: JupyterLab listens for its shortcuts on
  // document in the bubbling phase (notebook command mode: m, b, arrows...), so stop
  // plain keys here, after the board's own handlers ran. Keys with Ctrl/Meta/Alt still
  // reach the application (save, command palette, run cell).
  root.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey || ev.altKey)) ev.stopPropagation();
  });
  const workbench = () => el.closest(".vb-workbench");
  fitShortcut(ctx, workbench);
  const stopKeepingFocus = keepFitFocus(workbench);
  const stopReportingWidth = reportWidth(model, root);

  function draw() {
    if (ctx.drag && ctx.drag.active) {
      ctx.pendingRender = true;
      return;
    }
    // Focus survives the redraw: the control the last board action asked for, else the
    // equivalent of the focused one. Never taken from outside the board.
    const active = document.activeElement;
    const onBoard = active && (root.contains(active) || active === document.body);
    let restoreSel = onBoard ? ctx.focusAfterRender : null;
    if (!restoreSel && active && root.contains(active)) restoreSel = focusKey(ctx, active);
    if (!onBoard) ctx.focusAfterRender = null;
    closeMenu(ctx, false);
    const variables = model.get("variables") || [];
    const byName = {};
    for (const v of variables) byName[v.name] = v;
    root.replaceChildren();
    const top = h("div", "vb-board-top");
    top.appendChild(h("span", "vb-board-title", "Groups"));
    top.appendChild(
      h(
        "span",
        "vb-board-help",
        ctx.hidden("groups") || ctx.locked("groups")
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
    for (const c of columns(ctx.view())) {
      cols.appendChild(c.group ? groupColumn(ctx, c.group, byName) : pendingColumn(ctx, c.added, byName));
    }
    if (!ctx.hidden("groups")) cols.appendChild(newGroupZone(ctx));
    root.appendChild(cols);
    const discrete = variables.filter((v) => v.discrete);
    if (discrete.length) {
      const d = h("div", "vb-discrete");
      d.appendChild(h("span", "vb-discrete-label", "Not fitted (discrete):"));
      for (const v of discrete) d.appendChild(chipFor(ctx, v));
      d.appendChild(
        h("span", "vb-discrete-why", "VI here fits continuous variables only; these cannot be dragged.")
      );
      root.appendChild(d);
    }
    root.appendChild(live);
    if (restoreSel) {
      ctx.focusAfterRender = null;
      focusFirst(ctx, restoreSel);
    }
  }

  const onChange = () => draw();
  for (const t of TRAITS) model.on("change:" + t, onChange);
  const onDocPointer = (ev) => {
    if (ctx.menu && !ctx.menu.el.contains(ev.target)) closeMenu(ctx, false);
  };
  document.addEventListener("pointerdown", onDocPointer, true);
  draw();
  return () => {
    for (const t of TRAITS) model.off("change:" + t, onChange);
    document.removeEventListener("pointerdown", onDocPointer, true);
    stopKeepingFocus();
    stopReportingWidth();
    endDrag(ctx);
  };
}

export default { render };
