// vibench: a "Copy" button that puts the model's `text` on the clipboard.
// The async Clipboard API needs a secure context (https, localhost); elsewhere a
// hidden textarea and document.execCommand("copy") do the same.

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (_err) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (_err2) {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

function render({ model, el }) {
  const root = document.createElement("span");
  root.className = "vb-copy";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "jupyter-widgets jupyter-button widget-button vb-copy-button";
  button.title = "Copy the code to the clipboard";
  const label = () => {
    button.textContent = model.get("label");
  };
  label();
  const note = document.createElement("span");
  note.className = "vb-copy-note";
  note.setAttribute("role", "status");
  let timer = null;
  button.addEventListener("click", async () => {
    const ok = await copyText(model.get("text"));
    if (ok) {
      model.set("copies", model.get("copies") + 1);
      model.save_changes();
    }
    note.textContent = ok ? "Copied." : "Could not copy: select the code and press Ctrl+C.";
    clearTimeout(timer);
    timer = setTimeout(() => {
      note.textContent = "";
    }, 3000);
  });
  model.on("change:label", label);
  root.append(button, note);
  el.appendChild(root);
  return () => {
    clearTimeout(timer);
    model.off("change:label", label);
  };
}

export default { render };
