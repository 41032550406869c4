// Reading the plan view the board draws.
//
// Python owns the plan (the session) and the edits queued while a fit runs (the
// Board); it sends one serialised view of both, trait `plan_view`:
//   {groups: [{id, family, variables, flow, flow_steps, rowwise, rows, rowwise_ok,
//              rowwise_why, custom, label, pending_family, removing,
//              pending_variables}, ...],  // the rest group last
//    added: [{family, variables, pending_variables}, ...]}  // groups queued, no id yet
// The board never replays edits itself; these helpers only read the view.

export const EMPTY_VIEW = Object.freeze({ groups: [], added: [] });

// The id of the group `variable` sits in (in the view), or null.
export function groupOf(view, variable) {
  for (const g of view.groups) {
    if (g.variables.includes(variable)) return g.id;
  }
  return null;
}

// The columns in board order: groups, then the queued new groups, then rest.
export function columns(view) {
  const out = view.groups.filter((g) => g.id !== "rest").map((g) => ({ group: g }));
  for (const a of view.added) out.push({ added: a });
  for (const g of view.groups) if (g.id === "rest") out.push({ group: g });
  return out;
}

// How a family is named on the board: the picker's label, or "flow <formula>".
export function familyLabel(families, family) {
  const f = (families || []).find((x) => x.value === family);
  if (f && f.value !== "flow") return f.label;
  return "flow " + family;
}

// The formula a group gets when "Normalizing flow" is picked (from Python's families).
export function defaultFlow(families) {
  const f = (families || []).find((x) => x.value === "flow");
  return (f && f.formula) || null;
}

// Whether `variable` is shown pending in column `g` (a queued move puts it there).
export function isPendingIn(g, variable) {
  return !!g && (g.pending_variables || []).includes(variable);
}
