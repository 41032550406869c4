"""The workbench in a real JupyterLab: drag, families, flow editor, Fit/Stop/Reset, keyboard.

Each test writes its own small notebook into the server's temporary root, runs it and
drives the board like a person would, then asks the kernel what the session saw.
Screenshots land in ``test-artifacts/`` (the README's screenshot comes from here).
"""

from __future__ import annotations

import json
import time

from ._lab import ARTIFACTS, cell_errors, kernel_eval, open_notebook, run_all_cells, write_notebook

# FAST_COMPILE: the step function builds in about a second (and runs slower, which
# leaves time to see a fit running and to stop it mid-run).
SETUP = "import vibench\nwb = vibench.Workbench(compile_kwargs={'mode': 'FAST_COMPILE'})\nwb"


def _open_workbench(page, lab_server, name: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1800})
    write_notebook(lab_server.root / name, [SETUP])
    open_notebook(page, lab_server, name)
    run_all_cells(page)
    assert cell_errors(page) == []
    page.wait_for_selector(".vb-board .vb-chip[data-var='mu']")


def _groups(page) -> dict[str, dict]:
    out = kernel_eval(
        page,
        "import json; print(json.dumps({g.id: {'family': g.family, 'variables': g.variables}"
        " for g in wb.session.groups}))",
    )
    return json.loads(out)


def _kernel_sees(page, check, timeout: float = 20.0) -> dict[str, dict]:
    """The session's groups once ``check(groups)`` holds (a board edit reaches the
    kernel as a message of its own, after the DOM has already changed)."""
    deadline = time.monotonic() + timeout
    while True:
        groups = _groups(page)
        if check(groups) or time.monotonic() > deadline:
            assert check(groups), groups
            return groups
        time.sleep(0.2)


def _chip_in(page, group: str, var: str):
    return page.locator(f".vb-group[data-group='{group}'] .vb-chip[data-var='{var}']")


def _theme(page, name: str) -> None:
    """Switch JupyterLab's theme and wait until it is applied."""
    light = "false" if "Dark" in name else "true"
    page.evaluate(
        "(name) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: name})",
        name,
    )
    page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === light", arg=light, timeout=30_000
    )
    page.wait_for_timeout(500)  # let the theme's CSS variables settle before a picture


def _shot(page, name: str, locator=None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = locator if locator is not None else page
    target.screenshot(path=str(ARTIFACTS / name))


def test_drag_family_flow_editor_fit_stop_reset(lab_server, page):
    _open_workbench(page, lab_server, "wb_mouse.ipynb")
    board = page.locator(".vb-board")

    # drag mu onto the new-group zone: a new full-rank group holding mu
    page.locator(".vb-chip[data-var='mu']").drag_to(page.locator(".vb-new-group"))
    _chip_in(page, "g1", "mu").wait_for()
    # and tau into that group
    page.locator(".vb-chip[data-var='tau']").drag_to(page.locator(".vb-group[data-group='g1']"))
    _chip_in(page, "g1", "tau").wait_for()
    groups = _groups(page)
    assert groups["g1"] == {"family": "full_rank", "variables": ["mu", "tau"]}
    assert groups["rest"]["variables"] == ["theta_tilde"]

    # pick mean-field then full-rank again in the family picker
    picker = page.locator(".vb-group[data-group='g1'] select.vb-family")
    picker.select_option("mean_field")
    page.wait_for_function(
        "() => document.querySelector(\".vb-group[data-group='g1'] select.vb-family\").value"
        " === 'mean_field'"
    )
    _kernel_sees(page, lambda g: g["g1"]["family"] == "mean_field")
    picker.select_option("full_rank")
    page.wait_for_function(
        "() => document.querySelector(\".vb-group[data-group='g1'] select.vb-family\").value"
        " === 'full_rank'"
    )
    _kernel_sees(page, lambda g: g["g1"]["family"] == "full_rank")

    # a flow group for theta_tilde, built through the editor
    page.locator(".vb-chip[data-var='theta_tilde']").drag_to(page.locator(".vb-new-group"))
    _chip_in(page, "g2", "theta_tilde").wait_for()
    page.locator(".vb-group[data-group='g2'] select.vb-family").select_option("flow")
    editor = page.locator(".vb-group[data-group='g2'] .vb-flow-editor")
    editor.wait_for()
    formula = editor.locator(".vb-flow-formula")
    start = formula.input_value()
    editor.locator(".vb-flow-add[data-flow='radial']").click()
    page.wait_for_function(
        "(before) => document.querySelector(\".vb-group[data-group='g2'] .vb-flow-formula\")"
        ".value !== before",
        arg=start,
    )
    _kernel_sees(page, lambda g: g["g2"]["family"] == start + "-radial")
    # repeat count of the first step, then move the radial step up, then remove it
    first_repeat = editor.locator(".vb-flow-step[data-index='0'] .vb-flow-repeat")
    first_repeat.fill("2")
    first_repeat.press("Enter")
    page.wait_for_function(
        "() => document.querySelector(\".vb-group[data-group='g2'] .vb-flow-formula\")"
        ".value.startsWith('scale*2-')"
    )
    last = editor.locator(".vb-flow-step").count() - 1
    editor.locator(f".vb-flow-step[data-index='{last}'] .vb-flow-up").click()
    page.wait_for_function(
        "() => document.querySelector(\".vb-group[data-group='g2'] .vb-flow-formula\")"
        ".value.endsWith('radial-loc')"
    )
    _kernel_sees(page, lambda g: g["g2"]["family"].endswith("radial-loc"))
    editor.locator(".vb-flow-step[data-flow='radial'] .vb-flow-remove").click()
    page.wait_for_function(
        "() => !document.querySelector(\".vb-group[data-group='g2'] .vb-flow-formula\")"
        ".value.includes('radial')"
    )
    # an invalid formula is explained inline and changes nothing
    before = _kernel_sees(page, lambda g: "radial" not in g["g2"]["family"])["g2"]["family"]
    formula.fill("planar-wobble*2")
    formula.press("Enter")
    error = page.locator(".vb-group[data-group='g2'] .vb-error")
    error.wait_for()
    assert "wobble" in error.inner_text()
    assert _groups(page)["g2"]["family"] == before
    # a valid one typed as text is applied
    formula.fill("Planar*2 - loc")
    formula.press("Enter")
    page.wait_for_function(
        "() => document.querySelector(\".vb-group[data-group='g2'] .vb-flow-formula\")"
        ".value === 'planar*2-loc'"
    )
    _kernel_sees(page, lambda g: g["g2"]["family"] == "planar*2-loc")
    assert page.locator(".vb-group[data-group='g2'] .vb-error").count() == 0
    _shot(page, "workbench_board.png", board)

    # Fit: the status and the ELBO image change while the fit runs
    iterations = page.locator(".vb-iterations input")
    iterations.fill("200000")
    iterations.press("Tab")
    page.wait_for_function("() => true")
    assert kernel_eval(page, "print(wb.iterations.value)").strip() == "200000"
    elbo = page.locator("img.vb-elbo")
    src0 = elbo.get_attribute("src")
    page.locator(".vb-fit").click()
    page.wait_for_function(
        "() => document.querySelector('.vb-status').innerText.includes('Fitting')",
        timeout=120_000,
    )
    page.wait_for_function(
        "(s) => document.querySelector('img.vb-elbo').getAttribute('src') !== s",
        arg=src0,
        timeout=120_000,
    )
    src1 = elbo.get_attribute("src")
    status1 = page.locator(".vb-status").inner_text()
    page.wait_for_function(
        "(s) => document.querySelector('img.vb-elbo').getAttribute('src') !== s",
        arg=src1,
        timeout=120_000,
    )
    page.wait_for_function(
        "(s) => document.querySelector('.vb-status').innerText !== s",
        arg=status1,
        timeout=120_000,
    )
    assert kernel_eval(page, "print(wb.session.running)").strip() == "True"
    # the board stays usable while fitting: an edit is queued, not lost
    page.locator(".vb-new-group").click()
    page.locator(".vb-board .vb-notice").wait_for()
    assert "applied when it ends" in page.locator(".vb-board .vb-notice").inner_text()
    # ... and shown where it will land, marked pending (not snapped back)
    page.locator(".vb-group--new-pending .vb-pending-badge").wait_for()
    page.locator(".vb-chip[data-var='tau']").drag_to(page.locator(".vb-group[data-group='rest']"))
    page.locator(".vb-group[data-group='rest'] .vb-chip--pending[data-var='tau']").wait_for()
    assert _groups(page)["g1"]["variables"] == ["mu", "tau"]  # not applied yet
    _shot(page, "workbench_fitting.png", page.locator(".vb-workbench"))

    # Stop mid-run
    page.locator(".vb-stop").click()
    page.wait_for_function(
        "() => document.querySelector('.vb-status').innerText.includes('Stopped')",
        timeout=120_000,
    )
    done = json.loads(
        kernel_eval(
            page,
            "import json; r = wb.session.runs[-1]; "
            "print(json.dumps([r.status, r.iterations, wb.session.running]))",
        )
    )
    assert done[0] == "stopped"
    assert 0 < done[1] < 200_000
    assert done[2] is False
    page.wait_for_function("() => !document.querySelector('.vb-fit').disabled", timeout=120_000)
    page.locator(".vb-group[data-group='g3']").wait_for()  # the queued edits, applied
    _chip_in(page, "rest", "tau").wait_for()
    assert page.locator(".vb-pending-badge").count() == 0
    assert _groups(page)["rest"]["variables"] == ["tau"]
    _shot(page, "workbench_stopped.png", page.locator(".vb-workbench"))

    # Reset
    page.locator(".vb-reset").click()
    page.wait_for_function(
        "() => document.querySelector('.vb-status').innerText.includes('Reset')"
    )
    assert kernel_eval(page, "print(wb.session.iteration)").strip() == "0"


def test_keyboard_touch_and_python_to_board_sync(lab_server, page):
    _open_workbench(page, lab_server, "wb_keyboard.ipynb")

    # focus a chip, open its menu, choose "new group"
    chip = page.locator(".vb-chip[data-var='tau']")
    chip.focus()
    page.keyboard.press("Enter")
    menu = page.locator(".vb-move-menu")
    menu.wait_for()
    page.keyboard.press("End")  # "+ New full-rank group" is the last entry
    page.keyboard.press("Enter")
    _chip_in(page, "g1", "tau").wait_for()
    # focus came back to the chip: move it back to rest with the keyboard
    page.wait_for_function("() => document.activeElement.dataset.var === 'tau'")
    page.keyboard.press("Enter")
    page.locator(".vb-move-option[data-target='rest']").wait_for()
    page.locator(".vb-move-option[data-target='rest']").focus()
    page.keyboard.press("Enter")
    _chip_in(page, "rest", "tau").wait_for()
    # g1 lost its last variable: the session removed it, and the board follows
    page.locator(".vb-group[data-group='g1']").wait_for(state="detached")
    # Escape closes the menu and leaves things as they were
    page.locator(".vb-chip[data-var='mu']").focus()
    page.keyboard.press("Enter")
    menu.wait_for()
    page.keyboard.press("Escape")
    menu.wait_for(state="detached")
    assert list(_groups(page)) == ["rest"]

    # the family picker by keyboard, on an empty group made from Python
    kernel_eval(page, "wb.session.add_group('full_rank')")
    page.locator(".vb-group[data-group='g2']").wait_for()
    picker = page.locator(".vb-group[data-group='g2'] select.vb-family")
    picker.focus()
    picker.select_option("mean_field")
    page.wait_for_function(
        "() => document.querySelector(\".vb-group[data-group='g2'] select.vb-family\").value"
        " === 'mean_field'"
    )

    # empty groups can be removed
    page.locator(".vb-group[data-group='g2'] .vb-remove-group").click()
    page.locator(".vb-group[data-group='g2']").wait_for(state="detached")

    # a touch drag (pointer events with pointerType "touch") makes a new group too
    page.evaluate(
        """() => {
            const chip = document.querySelector(".vb-chip[data-var='mu']");
            const zone = document.querySelector(".vb-new-group");
            const a = chip.getBoundingClientRect();
            const b = zone.getBoundingClientRect();
            const at = (x, y) => ({bubbles: true, cancelable: true, pointerId: 7,
                pointerType: "touch", isPrimary: true, button: 0, clientX: x, clientY: y});
            const x0 = a.x + 5, y0 = a.y + 5;
            const x1 = b.x + b.width / 2, y1 = b.y + b.height / 2;
            chip.dispatchEvent(new PointerEvent("pointerdown", at(x0, y0)));
            for (let k = 1; k <= 6; k++) {
                chip.dispatchEvent(new PointerEvent("pointermove",
                    at(x0 + (x1 - x0) * k / 6, y0 + (y1 - y0) * k / 6)));
            }
            chip.dispatchEvent(new PointerEvent("pointerup", at(x1, y1)));
        }"""
    )
    _chip_in(page, "g3", "mu").wait_for()
    assert _groups(page)["g3"]["variables"] == ["mu"]
    page.locator(".vb-group[data-group='g3'] .vb-remove-group").click()
    page.locator(".vb-group[data-group='g3']").wait_for(state="detached")

    # Python -> board: session methods redraw the board
    kernel_eval(page, "gid = wb.session.add_group('full_rank', ['mu', 'theta_tilde'])")
    _chip_in(page, "g4", "theta_tilde").wait_for()
    kernel_eval(page, "wb.session.set_family(gid, 'scale-hh*2-loc')")
    page.locator(".vb-group[data-group='g4'] .vb-flow-editor").wait_for()
    assert page.locator(".vb-group[data-group='g4'] .vb-flow-step").count() == 3
    _shot(page, "workbench_keyboard.png", page.locator(".vb-workbench"))

    # readable in the dark theme (the setting is saved: switch back for the next tests)
    _theme(page, "JupyterLab Dark")
    try:
        _shot(page, "workbench_dark.png", page.locator(".vb-workbench"))
    finally:
        _theme(page, "JupyterLab Light")


def test_compare_runs_with_reference_screenshot(lab_server, page):
    """Two plans fitted one after the other, the NUTS reference on: the README picture."""
    _open_workbench(page, lab_server, "wb_compare.ipynb")
    iterations = page.locator(".vb-iterations input")
    iterations.fill("3000")
    iterations.press("Tab")
    page.locator(".vb-seed input").fill("1")
    page.locator(".vb-seed input").press("Tab")
    page.wait_for_function(
        "() => document.querySelector('.vb-fit') && !document.querySelector('.vb-fit').disabled"
    )
    assert kernel_eval(page, "print(wb.iterations.value, wb.seed.value)").split() == ["3000", "1"]

    def fit_and_wait() -> None:
        rows = page.locator(".vb-runs table tr").count()
        page.locator(".vb-fit").click()
        page.wait_for_function(
            "(n) => document.querySelectorAll('.vb-runs table tr').length > Math.max(n, 1)",
            arg=rows,
            timeout=120_000,
        )
        page.wait_for_function("() => !document.querySelector('.vb-fit').disabled")
        # Fit is free again at once; the k-hat reading follows in the status line
        page.wait_for_function(
            "() => !document.querySelector('.vb-status').innerText.includes('computing k-hat')",
            timeout=120_000,
        )
        assert "k-hat" in page.locator(".vb-status").inner_text()

    fit_and_wait()  # mean-field everywhere
    page.locator(".vb-chip[data-var='mu']").drag_to(page.locator(".vb-new-group"))
    _chip_in(page, "g1", "mu").wait_for()
    page.locator(".vb-chip[data-var='tau']").drag_to(page.locator(".vb-group[data-group='g1']"))
    _chip_in(page, "g1", "tau").wait_for()
    fit_and_wait()  # full-rank (mu, tau) + mean-field rest
    rows = page.locator(".vb-runs table tr")
    assert rows.count() == 3
    assert "full-rank(mu, tau)" in page.locator(".vb-runs").inner_text()

    marginals = page.locator("img.vb-marginals")
    before = marginals.get_attribute("src")
    status = page.locator(".vb-status").inner_text()
    page.locator(".vb-reference input").check()
    page.wait_for_function(
        "() => document.querySelector('.vb-reference-note').innerText.includes('ready')",
        timeout=120_000,
    )
    assert page.locator(".vb-status").inner_text() == status  # the run summary stays
    page.wait_for_function(
        "(s) => document.querySelector('img.vb-marginals').getAttribute('src') !== s",
        arg=before,
    )
    # the code tab shows runnable code for the plan
    page.locator(".vb-workbench").get_by_role("tab", name="Code").click()
    code = page.locator(".vb-code textarea")
    code.wait_for()
    assert "vibench.Group([model['mu'], model['tau']], vfam='full_rank')" in code.input_value()
    page.locator(".vb-copy-button").click()
    page.wait_for_function("() => document.querySelector('.vb-copy-note').innerText !== ''")
    assert page.locator(".vb-copy-note").inner_text() == "Copied."
    assert kernel_eval(page, "print(wb.copy_button.copies)").strip() == "1"
    # the plan tab's buttons show their whole labels
    page.locator(".vb-workbench").get_by_role("tab", name="Plan (JSON)").click()
    apply = page.locator(".vb-apply-plan")
    assert apply.evaluate("b => b.scrollWidth <= b.clientWidth + 1")
    _shot(page, "workbench_plan_tab.png", page.locator(".vb-tabs"))
    page.locator(".vb-workbench").get_by_role("tab", name="Runs").click()
    # the plots are as wide as the workbench (up to 960 CSS px), with 2x pixels
    elbo = page.locator("img.vb-elbo")
    size = elbo.evaluate("i => [i.clientWidth, i.naturalWidth]")
    assert size[0] >= 900
    assert size[1] >= 1.9 * size[0]
    _theme(page, "JupyterLab Light")
    _shot(page, "workbench_compare.png", page.locator(".vb-workbench"))
    _theme(page, "JupyterLab Dark")
    try:
        assert "invert" in elbo.evaluate("i => getComputedStyle(i).filter")
        _shot(page, "workbench_compare_dark.png", page.locator(".vb-workbench"))
    finally:
        _theme(page, "JupyterLab Light")


def test_instructor_preset_hides_and_locks_controls(lab_server, page):
    """A preset loads in one call; hidden controls are not in the DOM, locked ones disabled."""
    preset = {
        "vibench": 1,
        "model": {"name": "eight_schools"},
        "plan": {
            "groups": [
                {"id": "g1", "family": "full_rank", "variables": ["mu", "tau"]},
                {"id": "g2", "family": "scale-planar-loc", "variables": ["theta_tilde"]},
                {"id": "rest", "family": "mean_field", "variables": []},
            ]
        },
        "settings": {"iterations": 3000, "optimizer": "adam", "learning_rate": 0.02},
    }
    (lab_server.root / "exercise.json").write_text(json.dumps(preset))
    page.set_viewport_size({"width": 1400, "height": 1800})
    write_notebook(
        lab_server.root / "wb_preset.ipynb",
        [
            "import vibench\n"
            "wb = vibench.Workbench(preset='exercise.json', hide=['optimizer', 'seed', 'export'],"
            " lock=['families', 'flow_editor', 'iterations'],"
            " compile_kwargs={'mode': 'FAST_COMPILE'})\nwb"
        ],
    )
    open_notebook(page, lab_server, "wb_preset.ipynb")
    run_all_cells(page)
    assert cell_errors(page) == []
    page.wait_for_selector(".vb-group[data-group='g2'] .vb-chip[data-var='theta_tilde']")
    wb = page.locator(".vb-workbench")

    # hidden: not in the DOM at all
    assert wb.locator(".vb-optimizer").count() == 0
    assert wb.locator(".vb-seed").count() == 0
    assert wb.locator(".vb-plan-json").count() == 0
    assert wb.locator(".vb-code").count() == 0
    assert wb.locator(".lm-TabBar-tab").all_inner_texts() == ["Runs"]
    # locked: shown, disabled
    assert wb.locator(".vb-iterations input").is_disabled()
    assert wb.locator(".vb-iterations input").input_value() == "3000"
    pickers = wb.locator("select.vb-family")
    assert pickers.count() == 3
    for i in range(3):
        assert pickers.nth(i).is_disabled()
    editor = wb.locator(".vb-group[data-group='g2'] .vb-flow-editor")
    assert editor.locator(".vb-flow-formula").is_disabled()
    assert editor.locator(".vb-flow-add").first.is_disabled()
    # not locked: learning rate and dragging still work
    assert not wb.locator(".vb-learning-rate input").is_disabled()
    assert wb.locator(".vb-new-group").is_enabled()

    # a picker re-enabled in the DOM still cannot change the family: Python refuses
    page.evaluate(
        """() => {
            const s = document.querySelector(".vb-group[data-group='g1'] select.vb-family");
            s.disabled = false;
            s.value = 'mean_field';
            s.dispatchEvent(new Event('change'));
        }"""
    )
    page.wait_for_selector(".vb-notice:has-text('fixed for this exercise')")
    assert _groups(page)["g1"]["family"] == "full_rank"
    _shot(page, "workbench_preset_locked.png", wb)


def _cells(page) -> dict:
    """The notebook's cells as JupyterLab sees them: types, count, the active one, mode."""
    return page.evaluate(
        """() => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            return {types: nb.widgets.map(c => c.model.type), active: nb.activeCellIndex,
                    mode: nb.mode};
        }"""
    )


def _focused(page, selector: str) -> None:
    page.wait_for_function(
        "(sel) => document.activeElement && document.activeElement.matches(sel)", arg=selector
    )


def test_board_keys_stay_on_the_board_focus_escape_and_narrow_layout(lab_server, page):
    """Keys never reach notebook shortcuts; focus survives redraws; Escape cancels a drag;
    at 1024 px the columns wrap and every group, the new-group zone and menus stay on screen."""
    _open_workbench(page, lab_server, "wb_board_keys.ipynb")
    cells0 = _cells(page)
    assert cells0["mode"] == "command"  # where m, b, a, arrows... are notebook shortcuts

    # letters and arrows on a focused chip: the board's, not the notebook's
    page.locator(".vb-chip[data-var='mu']").focus()
    for key in ["b", "a", "m", "y", "ArrowUp", "j"]:
        page.keyboard.press(key)
    assert _cells(page) == cells0
    _focused(page, ".vb-chip[data-var='mu']")
    page.keyboard.press("ArrowDown")  # the board's own key: opens the move menu
    page.locator(".vb-move-menu").wait_for()
    page.keyboard.press("Escape")
    page.locator(".vb-move-menu").wait_for(state="detached")
    _focused(page, ".vb-chip[data-var='mu']")
    # on a focused family select: letters change nothing, arrows change the family
    picker = page.locator(".vb-group[data-group='rest'] select.vb-family")
    picker.focus()
    for key in ["m", "b", "a", "d"]:
        page.keyboard.press(key)
    assert _cells(page) == cells0
    page.keyboard.press("ArrowDown")  # mean-field -> full-rank
    _focused(page, ".vb-group[data-group='rest'] select.vb-family")
    page.wait_for_function(
        "() => document.querySelector(\".vb-group[data-group='rest'] select.vb-family\").value"
        " === 'full_rank'"
    )
    assert _groups(page)["rest"]["family"] == "full_rank"
    page.keyboard.press("ArrowUp")  # and back
    page.wait_for_function(
        "() => document.querySelector(\".vb-group[data-group='rest'] select.vb-family\").value"
        " === 'mean_field'"
    )
    _focused(page, ".vb-group[data-group='rest'] select.vb-family")
    assert _groups(page)["rest"]["family"] == "mean_field"
    assert _cells(page) == cells0  # no cell inserted, none turned to Markdown, none selected

    # Escape during a pointer drag cancels it: the chip stays, nothing is sent
    chip = page.locator(".vb-chip[data-var='tau']").bounding_box()
    zone = page.locator(".vb-new-group").bounding_box()
    page.mouse.move(chip["x"] + 8, chip["y"] + 8)
    page.mouse.down()
    page.mouse.move(zone["x"] + zone["width"] / 2, zone["y"] + zone["height"] / 2, steps=8)
    page.locator(".vb-ghost").wait_for()
    assert page.locator(".vb-new-group.vb-drop-target").count() == 1
    page.keyboard.press("Escape")
    page.locator(".vb-ghost").wait_for(state="detached")
    page.mouse.up()
    assert page.locator(".vb-drop-target, .vb-chip--dragging").count() == 0
    _chip_in(page, "rest", "tau").wait_for()
    assert list(_groups(page)) == ["rest"]
    assert _cells(page) == cells0

    # focus after flow-editor actions: Enter on a button keeps focus on its equivalent
    kernel_eval(page, "wb.session.add_group('scale-planar-loc', ['theta_tilde'])")
    editor = page.locator(".vb-group[data-group='g1'] .vb-flow-editor")
    editor.wait_for()
    formula = "document.querySelector(\".vb-group[data-group='g1'] .vb-flow-formula\").value"
    editor.locator(".vb-flow-step[data-index='0'] .vb-flow-down").focus()
    page.keyboard.press("Enter")  # scale moves down: focus follows it
    page.wait_for_function(f"() => {formula} === 'planar-scale-loc'")
    _focused(page, ".vb-group[data-group='g1'] .vb-flow-step[data-index='1'] .vb-flow-down")
    page.keyboard.press("Enter")  # to the bottom: its ↓ is disabled, focus goes to its ↑
    page.wait_for_function(f"() => {formula} === 'planar-loc-scale'")
    _focused(page, ".vb-group[data-group='g1'] .vb-flow-step[data-index='2'] .vb-flow-up")
    editor.locator(".vb-flow-add[data-flow='radial']").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => {formula} === 'planar-loc-scale-radial'")
    _focused(page, ".vb-group[data-group='g1'] .vb-flow-add[data-flow='radial']")
    page.keyboard.press("Enter")  # focus stayed, so a second Enter adds a second one
    page.wait_for_function(f"() => {formula} === 'planar-loc-scale-radial*2'")
    _focused(page, ".vb-group[data-group='g1'] .vb-flow-add[data-flow='radial']")
    assert _groups(page)["g1"]["family"] == "planar-loc-scale-radial*2"
    assert _cells(page) == cells0
    # the chip names the model's coordinates
    assert "school: 8" in page.locator(".vb-chip[data-var='theta_tilde']").inner_text()

    # narrow screens: the columns wrap, nothing is cut off
    kernel_eval(page, "wb.session.add_group('full_rank', ['mu'])")
    _chip_in(page, "g2", "mu").wait_for()
    for width in (1024, 1400):
        page.set_viewport_size({"width": width, "height": 1400})
        page.wait_for_timeout(300)  # let JupyterLab relayout
        for sel in [".vb-new-group", ".vb-group[data-group='rest']", ".vb-group[data-group='g2']"]:
            box = page.locator(sel).bounding_box()
            assert box is not None, sel
            assert box["x"] >= 0, (sel, width, box)
            assert box["x"] + box["width"] <= width, (sel, width, box)
        for theme in ("JupyterLab Light", "JupyterLab Dark"):
            _theme(page, theme)
            tag = "dark" if "Dark" in theme else "light"
            _shot(page, f"board_{width}_{tag}.png", page.locator(".vb-board"))
        _theme(page, "JupyterLab Light")
    page.set_viewport_size({"width": 1024, "height": 1400})
    page.wait_for_timeout(300)
    page.locator(".vb-chip[data-var='tau']").focus()
    page.keyboard.press("Enter")
    menu = page.locator(".vb-move-menu")
    menu.wait_for()
    box = menu.bounding_box()
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= 1024, box
    _shot(page, "board_1024_menu.png", page.locator(".vb-board"))
    page.keyboard.press("Escape")
    assert _cells(page) == cells0


def test_empirical_plan_fits_particles_and_says_what_it_shows(lab_server, page):
    """Rest to empirical: the particle controls appear, MC samples greys out, and the fit's
    status, plot and table speak of the particles' mean log p, with k-hat n/a."""
    _open_workbench(page, lab_server, "wb_empirical.ipynb")
    particles = page.locator(".vb-particles input")
    assert not particles.is_visible()
    page.locator(".vb-group[data-group='rest'] select.vb-family").select_option("empirical")
    particles.wait_for(state="visible")
    assert page.locator(".vb-temperature input").is_visible()
    assert page.locator(".vb-mc-samples input").is_disabled()
    particles.fill("30")
    particles.press("Tab")
    iterations = page.locator(".vb-iterations input")
    iterations.fill("400")
    iterations.press("Tab")
    page.wait_for_function(
        "() => document.querySelector('.vb-fit') && !document.querySelector('.vb-fit').disabled"
    )
    assert kernel_eval(page, "print(wb.session.particles, wb.iterations.value)").split() == [
        "30",
        "400",
    ]
    page.locator(".vb-fit").click()
    page.wait_for_function(
        "() => document.querySelector('.vb-status').innerText.includes('k-hat n/a')",
        timeout=120_000,
    )
    status = page.locator(".vb-status").inner_text()
    assert "mean log p of the particles" in status
    assert "nan" not in status
    # the table is refreshed just after the final status line
    page.wait_for_function(
        "() => document.querySelector('.vb-runs').innerText.includes('n/a (particles)')"
    )
    _shot(page, "workbench_empirical.png", page.locator(".vb-workbench"))


def test_rowwise_toggle_and_a_group_built_in_python(lab_server, page):
    """Row-wise on a vector variable from the board; a Python-built group is read-only."""
    _open_workbench(page, lab_server, "wb_rowwise.ipynb")
    page.locator(".vb-chip[data-var='theta_tilde']").drag_to(page.locator(".vb-new-group"))
    _chip_in(page, "g1", "theta_tilde").wait_for()
    toggle = page.locator(".vb-group[data-group='g1'] .vb-rowwise")
    assert toggle.get_attribute("aria-pressed") == "false"
    assert toggle.is_enabled()
    toggle.click()
    page.wait_for_selector(".vb-group[data-group='g1'] .vb-rowwise[aria-pressed='true']")
    head = page.locator(".vb-group[data-group='g1'] .vb-group-count").inner_text()
    assert head == "row-wise · 8 rows"
    assert kernel_eval(page, "print(wb.session.group('g1').rowwise)").strip() == "True"
    # mu (a scalar) cannot join; its own group cannot be row-wise (the tooltip says why)
    page.locator(".vb-chip[data-var='mu']").drag_to(page.locator(".vb-group[data-group='g1']"))
    page.wait_for_selector(".vb-notice")
    assert "cannot join row-wise group" in page.locator(".vb-notice").inner_text()
    page.locator(".vb-chip[data-var='mu']").drag_to(page.locator(".vb-new-group"))
    _chip_in(page, "g2", "mu").wait_for()
    mu_toggle = page.locator(".vb-group[data-group='g2'] .vb-rowwise")
    assert mu_toggle.is_disabled()
    assert "batch dimension" in (mu_toggle.get_attribute("title") or "")

    # a group built in Python: shown read-only, no remove, no family picker, not a target
    kernel_eval(
        page,
        "m = wb.session.model\n"
        "gid = wb.session.add_custom_group(vibench.Group([m['tau']], vfam='fr', model=m), "
        "label='my <b>group</b>')",
    )
    col = page.locator(".vb-group.vb-group--custom[data-group='g3']")
    col.wait_for()
    assert col.locator(".vb-custom-label").inner_text() == "my <b>group</b>"  # as text
    assert col.locator("select.vb-family").count() == 0
    assert col.locator(".vb-remove-group").count() == 0
    assert col.locator(".vb-rowwise").count() == 0
    assert "built in Python" in (
        col.locator(".vb-chip[data-var='tau']").get_attribute("title") or ""
    )
    page.locator(".vb-chip[data-var='mu']").focus()
    page.keyboard.press("Enter")
    page.locator(".vb-move-menu").wait_for()
    assert page.locator(".vb-move-option[data-target='g3']").count() == 0
    page.keyboard.press("Escape")


def _fits_its_container(page, selector: str) -> dict:
    """Whether the element is no wider than its cell's output area (and not cut off)."""
    return page.evaluate(
        """(sel) => {
            const e = document.querySelector(sel);
            const area = e.closest('.jp-Cell-outputArea').getBoundingClientRect();
            const box = e.getBoundingClientRect();
            const parent = e.parentElement;
            return {width: box.width, right: box.right, areaRight: area.right + 1,
                    parent: parent.clientWidth + 1, scroll: parent.scrollWidth <= parent.clientWidth + 1,
                    natural: e.naturalWidth || 0};
        }""",
        selector,
    )


def test_at_900_px_plots_fit_focus_stays_on_fit_and_runs_can_be_hidden_and_removed(
    lab_server, page
):
    """Issue 15 item 6: plots scale to the cell, Enter on Fit keeps the keyboard there,
    f on the board jumps to Fit, and the Runs table shows, hides and removes runs."""
    page.set_viewport_size({"width": 900, "height": 1600})
    write_notebook(lab_server.root / "wb_900.ipynb", [SETUP])
    open_notebook(page, lab_server, "wb_900.ipynb")
    run_all_cells(page)
    assert cell_errors(page) == []
    page.wait_for_selector(".vb-board .vb-chip[data-var='mu']")
    kernel_eval(page, "wb.iterations.value = 600")

    # the keyboard path: f on a chip goes to Fit, Enter fits, the focus moves to Stop
    # while it runs (Fit is disabled) and back to Fit when it ends
    page.locator(".vb-chip[data-var='mu']").focus()
    page.keyboard.press("f")
    _focused(page, "button.vb-fit")
    assert "Press f to go to Fit" in page.locator(".vb-board-help").inner_text()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('button.vb-fit').disabled")
    _focused(page, "button.vb-stop")
    page.wait_for_function(
        "() => document.querySelectorAll('.vb-runs table tr').length === 2", timeout=120_000
    )
    page.wait_for_function("() => !document.querySelector('button.vb-fit').disabled")
    _focused(page, "button.vb-fit")
    page.wait_for_function(
        "() => document.querySelector('.vb-status').innerText.includes('k-hat')", timeout=60_000
    )
    # Enter again, from where the focus stayed: a second run (a short one)
    kernel_eval(page, "wb.iterations.value = 48")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.vb-runs table tr').length === 3", timeout=120_000
    )
    page.wait_for_function(
        "() => !document.querySelector('button.vb-fit').disabled"
        " && !document.querySelector('.vb-status').innerText.includes('computing')",
        timeout=60_000,
    )
    _focused(page, "button.vb-fit")

    # the short run (it continues the first: iterations 600-648) gets the iteration
    # axis to itself
    xlim = kernel_eval(
        page,
        "from vibench.plots.elbo import x_range\n"
        "print(x_range(wb._current_trace() or None, wb._previous_traces(exclude=wb._run)))",
    )
    assert xlim.strip() == "(600.0, 648.0)", xlim

    # the plots scale to the cell at 900, 1000 and 1400 px: never wider, nothing cut off
    for width in (900, 1000, 1400):
        page.set_viewport_size({"width": width, "height": 1600})
        page.wait_for_timeout(300)  # let JupyterLab relayout
        for sel in ("img.vb-elbo", "img.vb-marginals"):
            m = _fits_its_container(page, sel)
            assert m["width"] <= m["parent"], (width, sel, m)
            assert m["right"] <= m["areaRight"], (width, sel, m)
            assert m["scroll"], (width, sel, m)
            assert m["natural"] >= 1.4 * m["width"], (width, sel, m)  # sharp, only scaled
    # back at 900 px (tall enough for the whole workbench in one picture): the ELBO plot
    # is drawn 5 inches wide for the 468 px cell (960 pixels at 2x), not 10 scaled down
    page.set_viewport_size({"width": 900, "height": 2400})
    # and two 2-inch marginal panels a row
    page.wait_for_function(
        "() => document.querySelector('img.vb-elbo').naturalWidth <= 1000"
        " && document.querySelector('img.vb-marginals').naturalWidth <= 1000",
        timeout=30_000,
    )
    _shot(page, "workbench_900.png", page.locator(".vb-workbench"))
    # the Runs table scrolls inside the cell rather than running off its edge
    m = _fits_its_container(page, ".vb-runs")
    assert m["right"] <= m["areaRight"], m

    # the Runs table: overlay run 1 in the marginals, untick it (out of the plots), then
    # remove it
    marginals = page.locator("img.vb-marginals").get_attribute("src")
    page.locator(".vb-runs input.vb-run-overlay[data-run='1']").check()
    page.locator(".vb-runs input.vb-run-overlay[data-run='1'][checked]").wait_for()
    page.wait_for_function(
        "(s) => document.querySelector('img.vb-marginals').getAttribute('src') !== s",
        arg=marginals,
    )
    assert kernel_eval(page, "print(len(wb._marginal_overlays(wb._panels())))").strip() == "1"
    _focused(page, ".vb-runs input.vb-run-overlay[data-run='1']")
    _shot(page, "workbench_900_overlay.png", page.locator(".vb-workbench"))
    elbo = page.locator("img.vb-elbo").get_attribute("src")
    box = page.locator(".vb-runs input.vb-run-show[data-run='1']")
    box.uncheck()
    page.locator(".vb-runs tr.vb-run-hidden").wait_for()  # Python redrew the table
    page.wait_for_function(
        "(s) => document.querySelector('img.vb-elbo').getAttribute('src') !== s", arg=elbo
    )
    assert kernel_eval(page, "print(len(wb.shown_runs()), len(wb.session.runs))").split() == [
        "1",
        "2",
    ]
    _focused(page, ".vb-runs input.vb-run-show[data-run='1']")  # focus survived the redraw
    assert not page.locator(".vb-runs input.vb-run-show[data-run='1']").is_checked()
    _shot(page, "workbench_900_run_hidden.png", page.locator(".vb-workbench"))
    page.locator(".vb-runs button.vb-run-remove[data-run='1']").click()
    page.wait_for_function("() => document.querySelectorAll('.vb-runs table tr').length === 2")
    assert kernel_eval(page, "print(len(wb.session.runs), len(wb.shown_runs()))").split() == [
        "1",
        "1",
    ]
    assert cell_errors(page) == []
