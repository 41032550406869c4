// The flow editor of a flow group: its stack of steps (name × repeat count, move up or
// down, remove), a palette to add a flow, and the formula as text.
//
// The formula grammar has one owner, Python (vibench.engine.flows.parse_formula,
// reached through the session): the Board sends each flow group's parsed steps
// (`flow_steps`, [{name, count}]) and the registry's names (`flow_names`), and every
// formula the editor makes, typed or built from the steps, goes to the session as
// text, which refuses a bad one with the parser's own message. The editor never
// parses; `stepsFormula` only writes steps down as tokens ("name" or "name*N" joined
// by "-"), the inverse the parser is tested against (tests/widgets/test_board_js.py).
import { LOCKED_TITLE, cssEscape, groupSel, groupTitle, h } from "./dom.js";

const FLOW_HELP = {
  planar: "planar: z + u·tanh(wᵀz + b), bends along one direction",
  radial: "radial: contracts/expands around a point",
  hh: "Householder: a reflection (rotates the space, volume kept)",
  scale: "scale: multiplies each coordinate (diagonal)",
  loc: "loc: shifts every coordinate",
};
const FLOW_LABEL = { hh: "Householder" };

// ------------------------------------------------------------ pure step edits
// `steps` are [{name, count}]; each edit returns a new list (the input is not changed).
// A count is passed through as given (a number, or the text of the repeat box):
// Python decides whether it is a valid repeat count.

export function stepsFormula(steps) {
  return steps.map((s) => (String(s.count) === "1" ? s.name : `${s.name}*${s.count}`)).join("-");
}

export function withCount(steps, i, count) {
  return steps.map((s, j) => (j === i ? { name: s.name, count } : { ...s }));
}

export function swapSteps(steps, i, j) {
  const next = steps.map((s) => ({ ...s }));
  [next[i], next[j]] = [next[j], next[i]];
  return next;
}

export function withoutStep(steps, i) {
  return steps.filter((_, j) => j !== i).map((s) => ({ ...s }));
}

export function withStep(steps, name) {
  return [...steps.map((s) => ({ ...s })), { name, count: 1 }];
}

// ------------------------------------------------------------ typed formulas
// What the formula box shows: the text last typed while Python's refusal of it is
// shown (so a typo can be fixed, not retyped), else the group's family.
// ctx.drafts[id] = {text, family, revision} is set when a typed formula is sent.
export function formulaText(ctx, g) {
  const d = ctx.drafts[g.id];
  if (!d) return g.family;
  if (d.family === g.family) {
    if (ctx.model.get("revision") === d.revision) return d.text; // Python has not answered
    if ((ctx.model.get("errors") || {})[g.id]) return d.text; // refused: fix the typo
  }
  delete ctx.drafts[g.id]; // applied, or answered without a complaint
  return g.family;
}

// ------------------------------------------------------------ the editor
export function flowEditor(ctx, g) {
  const names = ctx.model.get("flow_names") || [];
  const ed = h("div", "vb-flow-editor");
  ed.setAttribute("role", "group");
  ed.setAttribute("aria-label", `Flow stack of ${groupTitle(g).toLowerCase()}`);
  const steps = g.flow_steps || [];
  const gs = groupSel(g.id);
  const send = (family, focusSel) => {
    delete ctx.localErrors[g.id];
    delete ctx.drafts[g.id];
    ctx.focusAfterRender = focusSel
      ? [].concat(focusSel).map((f) => `${gs} ${f}`).concat([`${gs} .vb-flow-formula`])
      : null;
    ctx.send({ kind: "set_family", group: g.id, family });
  };
  const sendSteps = (next, focusSel) => {
    if (next.length === 0) {
      ctx.localErrors[g.id] = "A flow group needs at least one flow: add one before removing this.";
      ctx.draw();
      return;
    }
    send(stepsFormula(next), focusSel);
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
    rep.value = String(s.count);
    rep.setAttribute("aria-label", `repeat count of ${s.name} (step ${i + 1})`);
    rep.title = "how many times this flow is applied";
    const commitRepeat = () => {
      const count = String(rep.value).trim();
      if (count === String(s.count)) return;
      sendSteps(withCount(steps, i, count), `.vb-flow-step[data-index="${i}"] .vb-flow-repeat`);
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
      const st = `.vb-flow-step[data-index="${i - 1}"]`;
      sendSteps(swapSteps(steps, i - 1, i), [`${st} .vb-flow-up`, `${st} .vb-flow-down`]);
    });
    btn("vb-flow-down", "↓", "Move down", i === steps.length - 1, () => {
      const st = `.vb-flow-step[data-index="${i + 1}"]`;
      sendSteps(swapSteps(steps, i, i + 1), [`${st} .vb-flow-down`, `${st} .vb-flow-up`]);
    });
    btn("vb-flow-remove", "✕", "Remove", false, () => {
      const k = Math.min(i, steps.length - 2);
      sendSteps(withoutStep(steps, i), [
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
      sendSteps(withStep(steps, n), `.vb-flow-add[data-flow="${cssEscape(n)}"]`)
    );
    pal.appendChild(b);
  }
  ed.appendChild(pal);

  const row = h("label", "vb-flow-formula-row");
  row.appendChild(h("span", "vb-flow-formula-label", "Formula"));
  const input = h("input", "vb-flow-formula");
  input.type = "text";
  input.value = formulaText(ctx, g);
  input.spellcheck = false;
  input.setAttribute("aria-label", `flow formula of ${groupTitle(g).toLowerCase()}`);
  input.title = "e.g. scale-hh*2-planar-loc: tokens joined by '-', name*N repeats";
  const commit = () => {
    const text = input.value;
    if (text === g.family) {
      if (ctx.drafts[g.id] || ctx.localErrors[g.id]) {
        delete ctx.drafts[g.id];
        delete ctx.localErrors[g.id];
        ctx.draw();
      }
      return;
    }
    if (ctx.drafts[g.id] && ctx.drafts[g.id].text === text) return; // sent already
    send(text, null);
    ctx.focusAfterRender = `${gs} .vb-flow-formula`;
    ctx.drafts[g.id] = { text, family: g.family, revision: ctx.model.get("revision") };
  };
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      commit();
    } else if (ev.key === "Escape") {
      input.value = g.family;
      delete ctx.localErrors[g.id];
      delete ctx.drafts[g.id];
      ctx.draw();
    }
  });
  input.addEventListener("change", commit);
  row.appendChild(input);
  ed.appendChild(row);
  if (ctx.locked("flow_editor") || ctx.locked("families") || ctx.hidden("families")) {
    ed.classList.add("vb-flow-editor--locked");
    for (const c of ed.querySelectorAll("button, input")) {
      c.disabled = true;
      c.title = LOCKED_TITLE;
    }
  }
  return ed;
}
