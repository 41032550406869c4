// Small DOM and text helpers shared by the board's parts.
//
// Names from the model are untrusted: they are only ever written with textContent
// (`h`), never parsed as HTML.

export const LOCKED_TITLE = "Locked for this exercise";

// An element with a class and text.
export function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// A string quoted for an attribute selector (CSS.escape where the browser has it).
export function cssEscape(s) {
  const css = globalThis.CSS;
  return css && css.escape ? css.escape(s) : String(s).replace(/["\\]/g, "\\$&");
}

export function chipSel(variable) {
  return `.vb-chip[data-var="${cssEscape(variable)}"]`;
}

export function groupSel(id) {
  return `.vb-group[data-group="${cssEscape(id)}"]`;
}

// "scalar", "(8,)", "(3, 2)", or with the model's coordinate names "(pred: 3)" and
// "(school: 8, 2)" for an unnamed axis.
export function shapeText(shape, dims) {
  if (!shape || shape.length === 0) return "scalar";
  if (dims && dims.length === shape.length && dims.some((d) => d)) {
    return "(" + shape.map((n, i) => (dims[i] ? `${dims[i]}: ${n}` : String(n))).join(", ") + ")";
  }
  return "(" + shape.join(", ") + (shape.length === 1 ? ",)" : ")");
}

export function groupTitle(g) {
  return g.id === "rest" ? "Rest" : "Group " + g.id;
}

export function pendingBadge(title) {
  const b = h("span", "vb-pending-badge", "pending");
  b.title = title;
  return b;
}
