// vibench: the Runs tab's table, with a "show" box, an "overlay" box and a "remove"
// button per run. Python sends the table as plain data (`table`: runs_table_parts in
// _runs.py); the DOM is built here from text nodes only, so a variable or plan name
// from a model is never parsed as HTML. Clicks go back as messages. Focus stays on the
// control pressed when Python redraws the table.

function element(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : String(value));
  }
  if (text !== null) node.textContent = text;
  return node;
}

function controlsCell(c) {
  const n = c.run;
  const td = element("td", { class: "vb-run-controls" });
  td.appendChild(element("input", {
    type: "checkbox", class: "vb-run-show", "data-run": n, checked: c.shown,
    "aria-label": `show run ${n} in the plots`,
    title: `Show run ${n} in the ELBO plot and the marginals`,
  }));
  td.appendChild(element("input", {
    type: "checkbox", class: "vb-run-overlay", "data-run": n,
    checked: c.overlay === true, disabled: c.overlay === null,
    "aria-label": `overlay run ${n} in the marginals`, title: c.overlay_title,
  }));
  td.appendChild(element("button", {
    type: "button", class: "vb-run-remove", "data-run": n,
    title: `Remove run ${n} from the table and the plots`, "aria-label": `remove run ${n}`,
  }, "\u2715"));
  return td;
}

function buildTable(table) {
  if (!table || table.empty) {
    return element("p", { class: "vb-empty-runs" }, (table && table.empty) || "");
  }
  const out = element("table", { class: "vb-runs-table" });
  const head = element("tr");
  for (const h of table.head) head.appendChild(element("th", { title: h.title }, h.text));
  out.appendChild(head);
  for (const row of table.rows) {
    const tr = element("tr", { class: row.hidden ? "vb-run-hidden" : null });
    if (row.controls) tr.appendChild(controlsCell(row.controls));
    for (const c of row.cells) {
      const td = element("td", { class: c.cls, title: c.title }, c.text);
      if (c.tag !== null && c.tag !== undefined) {
        td.appendChild(document.createTextNode(" "));
        td.appendChild(element("span", { class: c.tag_cls }, c.tag));
      }
      tr.appendChild(td);
    }
    out.appendChild(tr);
  }
  return out;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "vb-runs-body";
  el.appendChild(root);

  const key = (node) => {
    if (!node || !root.contains(node)) return null;
    const run = node.getAttribute("data-run");
    if (node.matches("input.vb-run-show")) return `input.vb-run-show[data-run='${run}']`;
    if (node.matches("input.vb-run-overlay")) return `input.vb-run-overlay[data-run='${run}']`;
    if (node.matches("button.vb-run-remove")) return `button.vb-run-remove[data-run='${run}']`;
    return null;
  };
  let removed = null; // after a remove, focus the next row's remove button (or the first)

  const draw = () => {
    const sel = key(document.activeElement);
    const lost = document.activeElement === document.body || !document.activeElement;
    root.replaceChildren(buildTable(model.get("table")));
    let target = sel ? root.querySelector(sel) : null;
    if (!target && removed !== null && (lost || sel)) {
      const buttons = [...root.querySelectorAll("button.vb-run-remove")];
      target = buttons[Math.min(removed, buttons.length - 1)] || null;
    }
    removed = null;
    if (target) target.focus();
  };

  root.addEventListener("change", (ev) => {
    const box = ev.target;
    if (!box.matches || !box.matches("input.vb-run-show, input.vb-run-overlay")) return;
    const kind = box.matches("input.vb-run-show") ? "show" : "overlay";
    model.send({ kind, run: Number(box.getAttribute("data-run")), shown: box.checked });
  });
  root.addEventListener("click", (ev) => {
    const b = ev.target.closest ? ev.target.closest("button.vb-run-remove") : null;
    if (!b || !root.contains(b)) return;
    removed = [...root.querySelectorAll("button.vb-run-remove")].indexOf(b);
    model.send({ kind: "remove", run: Number(b.getAttribute("data-run")) });
  });
  // keys on the table are the table's (Space/Enter toggle and press; the notebook's
  // command-mode shortcuts must not see them)
  root.addEventListener("keydown", (ev) => {
    if (!(ev.ctrlKey || ev.metaKey || ev.altKey)) ev.stopPropagation();
  });

  model.on("change:table", draw);
  draw();
  return () => model.off("change:table", draw);
}

export default { render };
