// vibench: the Runs tab's table, with a "show" box and a "remove" button per run.
// The table's HTML comes from Python (escaped there); clicks go back as messages.
// Focus stays on the control pressed when Python redraws the table.

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
    root.innerHTML = model.get("value") || "";
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

  model.on("change:value", draw);
  draw();
  return () => model.off("change:value", draw);
}

export default { render };
