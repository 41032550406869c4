// The board's pure helpers, imported from the part files (node --test tests/js/).
// Run by tests/widgets/test_board_js.py in the pytest run.
import assert from "node:assert/strict";
import { test } from "node:test";

import { fitControl, isFitShortcut } from "../../vibench/widgets/static/board/controls.js";
import { groupCount } from "../../vibench/widgets/static/board/columns.js";
import { chipSel, cssEscape, groupSel, groupTitle, shapeText } from "../../vibench/widgets/static/board/dom.js";
import { DRAG_THRESHOLD, dropAction, isDrag } from "../../vibench/widgets/static/board/drag.js";
import {
  formulaText,
  stepsFormula,
  swapSteps,
  withCount,
  withStep,
  withoutStep,
} from "../../vibench/widgets/static/board/flow_editor.js";
import { menuStep } from "../../vibench/widgets/static/board/menu.js";
import {
  EMPTY_VIEW,
  columns,
  defaultFlow,
  familyLabel,
  groupOf,
  isPendingIn,
} from "../../vibench/widgets/static/board/plan.js";
import { MIN_CHANGE, WIDE, widthToReport } from "../../vibench/widgets/static/board/plots.js";

const FAMILIES = [
  { value: "mean_field", label: "Mean-field" },
  { value: "full_rank", label: "Full-rank" },
  { value: "flow", label: "Normalizing flow", formula: "scale-planar*2-loc" },
];

function column(id, variables, more = {}) {
  return { id, family: "mean_field", variables, pending_variables: [], ...more };
}

test("shapes are written as Python tuples, with the model's dims when it names them", () => {
  assert.equal(shapeText([], []), "scalar");
  assert.equal(shapeText(undefined), "scalar");
  assert.equal(shapeText([8]), "(8,)");
  assert.equal(shapeText([3, 2]), "(3, 2)");
  assert.equal(shapeText([3], ["pred"]), "(pred: 3)");
  assert.equal(shapeText([8, 2], ["school", null]), "(school: 8, 2)");
  assert.equal(shapeText([8, 2], [null, null]), "(8, 2)"); // no names: the plain tuple
  assert.equal(shapeText([8, 2], ["school"]), "(8, 2)"); // dims that do not fit are ignored
});

test("selectors quote untrusted names (no CSS.escape in node: the fallback)", () => {
  assert.equal(globalThis.CSS, undefined);
  assert.equal(cssEscape('a"b\\c'), 'a\\"b\\\\c');
  assert.equal(chipSel('x"]'), '.vb-chip[data-var="x\\"]"]');
  assert.equal(groupSel("g1"), '.vb-group[data-group="g1"]');
  assert.equal(groupTitle({ id: "rest" }), "Rest");
  assert.equal(groupTitle({ id: "g2" }), "Group g2");
});

test("steps are written as tokens joined by '-', name*N for a repeat", () => {
  assert.equal(stepsFormula([]), "");
  assert.equal(stepsFormula([{ name: "planar", count: 1 }]), "planar");
  const steps = [
    { name: "scale", count: 1 },
    { name: "hh", count: 2 },
    { name: "loc", count: 1 },
  ];
  assert.equal(stepsFormula(steps), "scale-hh*2-loc");
  // a count typed in the repeat box goes through as text, for Python to judge
  assert.equal(stepsFormula(withCount(steps, 0, "3")), "scale*3-hh*2-loc");
  assert.equal(stepsFormula(withCount(steps, 0, "1")), "scale-hh*2-loc");
  assert.equal(stepsFormula(withCount(steps, 2, "0")), "scale-hh*2-loc*0");
  assert.equal(stepsFormula(withCount(steps, 2, "")), "scale-hh*2-loc*");
});

test("step edits return new lists and leave the drawn steps alone", () => {
  const steps = [
    { name: "scale", count: 1 },
    { name: "planar", count: 2 },
    { name: "loc", count: 1 },
  ];
  const before = JSON.stringify(steps);
  assert.equal(stepsFormula(swapSteps(steps, 0, 1)), "planar*2-scale-loc");
  assert.equal(stepsFormula(swapSteps(steps, 1, 2)), "scale-loc-planar*2");
  assert.equal(stepsFormula(withoutStep(steps, 1)), "scale-loc");
  assert.deepEqual(withoutStep([{ name: "loc", count: 1 }], 0), []);
  assert.equal(stepsFormula(withStep(steps, "radial")), "scale-planar*2-loc-radial");
  // two neighbours of one flow are two tokens here; the session's parser merges them
  assert.equal(stepsFormula(withStep([{ name: "loc", count: 1 }], "loc")), "loc-loc");
  withCount(steps, 1, 5)[1].name = "changed";
  assert.equal(JSON.stringify(steps), before);
});

test("a typed formula stays in the box while Python has not answered or refused it", () => {
  const state = { errors: {}, revision: 3 };
  const ctx = { drafts: {}, model: { get: (k) => state[k] } };
  const g = { id: "g1", family: "planar" };
  assert.equal(formulaText(ctx, g), "planar");
  ctx.drafts.g1 = { text: "planar-wobble", family: "planar", revision: 3 };
  assert.equal(formulaText(ctx, g), "planar-wobble"); // waiting for the answer
  state.revision = 4;
  state.errors = { g1: "unknown flow 'wobble'" };
  assert.equal(formulaText(ctx, g), "planar-wobble"); // refused: fix it in place
  state.errors = {};
  assert.equal(formulaText(ctx, g), "planar"); // answered without a complaint
  assert.deepEqual(ctx.drafts, {});
  ctx.drafts.g1 = { text: "Planar * 2", family: "planar", revision: 4 };
  assert.equal(formulaText(ctx, { id: "g1", family: "planar*2" }), "planar*2"); // applied
  assert.deepEqual(ctx.drafts, {});
});

test("columns: groups, then the queued new groups, then rest", () => {
  const view = {
    groups: [column("g1", ["mu"]), column("g2", []), column("rest", ["tau"])],
    added: [{ family: "full_rank", variables: ["theta"], pending_variables: ["theta"] }],
  };
  const order = columns(view).map((c) => (c.group ? c.group.id : "new:" + c.added.variables));
  assert.deepEqual(order, ["g1", "g2", "new:theta", "rest"]);
  assert.deepEqual(columns(EMPTY_VIEW), []);
  assert.equal(groupOf(view, "tau"), "rest");
  assert.equal(groupOf(view, "theta"), null); // not in a group yet (queued)
  assert.equal(isPendingIn(view.added[0], "theta"), true);
  assert.equal(isPendingIn(view.groups[0], "mu"), false);
  assert.equal(isPendingIn(undefined, "mu"), false);
});

test("family labels and the default flow come from Python's families", () => {
  assert.equal(familyLabel(FAMILIES, "full_rank"), "Full-rank");
  assert.equal(familyLabel(FAMILIES, "scale-loc"), "flow scale-loc");
  assert.equal(familyLabel(FAMILIES, "flow"), "flow flow");
  assert.equal(familyLabel(undefined, "mean_field"), "flow mean_field");
  assert.equal(defaultFlow(FAMILIES), "scale-planar*2-loc");
  assert.equal(defaultFlow([]), null);
});

test("a column's count line", () => {
  const byName = { mu: { size: 1 }, theta: { size: 8 } };
  assert.equal(groupCount(column("g1", []), byName), "empty");
  assert.equal(groupCount(column("g1", ["mu", "theta"]), byName), "2 var · 9 dim");
  assert.equal(groupCount(column("g1", ["theta"], { rowwise: true, rows: 8 }), byName), "row-wise · 8 rows");
  assert.equal(groupCount(column("g1", ["theta"], { rowwise: true, rows: null }), byName), "row-wise · ? rows");
});

test("a press becomes a drag past the threshold; a drop asks for a move or a new group", () => {
  assert.equal(isDrag(0, 0), false);
  assert.equal(isDrag(DRAG_THRESHOLD - 1, 0), false);
  assert.equal(isDrag(3, 3), true);
  assert.equal(dropAction("mu", null, "rest"), null);
  assert.deepEqual(dropAction("mu", { newGroup: true }, "rest"), {
    kind: "new_group",
    variable: "mu",
    family: "full_rank",
  });
  assert.deepEqual(dropAction("mu", { newGroup: false, group: "g1" }, "rest"), {
    kind: "move",
    variable: "mu",
    group: "g1",
  });
  assert.equal(dropAction("mu", { newGroup: false, group: "rest" }, "rest"), null); // same group
  assert.equal(dropAction("mu", { newGroup: false, group: undefined }, "rest"), null);
});

test("the move menu's keys wrap around", () => {
  assert.equal(menuStep("ArrowDown", 2, 3), 0);
  assert.equal(menuStep("ArrowUp", 0, 3), 2);
  assert.equal(menuStep("Home", 2, 3), 0);
  assert.equal(menuStep("End", 0, 3), 2);
  assert.equal(menuStep("x", 0, 3), null);
});

test("the width is reported for a narrow cell only, and only on a real change", () => {
  assert.equal(widthToReport(0, 0), null); // not laid out yet
  assert.equal(widthToReport(WIDE + 200, 0), null); // wide, and reported wide already
  assert.equal(widthToReport(700, 0), 700);
  assert.equal(widthToReport(700 + MIN_CHANGE - 1, 700), null); // a scroll bar
  assert.equal(widthToReport(700 + MIN_CHANGE, 700), 740);
  assert.equal(widthToReport(WIDE, 980), 0); // wide again
});

test("'f' goes to Fit, or to Stop while Fit is disabled", () => {
  const button = (disabled) => ({ disabled });
  const wb = (fit, stop) => ({
    querySelector: (sel) => (sel === "button.vb-fit" ? fit : stop),
  });
  const fit = button(false);
  const stop = button(true);
  assert.equal(fitControl(null), null);
  assert.equal(fitControl(wb(fit, stop)), fit);
  const busy = button(true);
  const live = button(false);
  assert.equal(fitControl(wb(busy, live)), live);
  assert.equal(fitControl(wb(busy, button(true))), busy);
  const key = (more) => ({ key: "f", ctrlKey: false, metaKey: false, altKey: false, ...more });
  const typing = { closest: (sel) => (sel.includes("input") ? {} : null) };
  assert.equal(isFitShortcut(key({})), true);
  assert.equal(isFitShortcut(key({ ctrlKey: true })), false);
  assert.equal(isFitShortcut(key({ key: "g" })), false);
  assert.equal(isFitShortcut(key({ defaultPrevented: true })), false);
  assert.equal(isFitShortcut(key({ target: typing })), false);
  assert.equal(isFitShortcut(key({ target: { closest: () => null } })), true);
});
