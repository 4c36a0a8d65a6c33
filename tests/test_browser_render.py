"""`show --svg`, `show --html` and `report --html` opened in a real headless browser
(Debian's chromium, tests/browser.py): the screenshot has the size asked for, is not a
blank single-colour image, and shows each task's box in its colour where it is drawn;
the DOM chromium built holds every task's box."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import browser
import pytest
from png_pixels import Image
from test_effects_with_fake_slurm import Cli
from test_report import T0, finish, lanes_bench, settled, svg_of, task_rects

from slurmplan.compiler import Plan
from slurmplan.effects.cli import main, report
from slurmplan.effects.cli.plan_files import dump_plan

SIZE = (1200, 700)


def rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour.lstrip("#"), 16)
    return value >> 16, (value >> 8) & 255, value & 255


def _not_blank(image: Image) -> None:
    assert (image.width, image.height) == SIZE
    # Not one colour: at least the white page, the grey tracks, the boxes and the text.
    assert len(image.colours()) >= 4, "a blank or nearly blank screenshot"


def _box_pixels(image: Image) -> Counter[tuple[int, int, int]]:
    return Counter(image.pixel(x, y) for y in range(image.height) for x in range(image.width))


def _plan_files(tmp_path: Path) -> tuple[Plan, Path, Path]:
    plan = lanes_bench(tmp_path).plan
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(plan))
    svg_file, html_file = tmp_path / "plan.svg", tmp_path / "plan.html"
    assert main(["show", str(path), "--svg", str(svg_file), "--html", str(html_file)]) == 0
    return plan, svg_file, html_file


def test_show_svg_renders_each_task_box_where_it_is_drawn(tmp_path: Path) -> None:
    plan, svg_file, _ = _plan_files(tmp_path)
    image = browser.screenshot(svg_file, tmp_path / "svg.png", SIZE)
    _not_blank(image)
    # The SVG file is the page: its coordinates are the screenshot's pixels.
    for task, rect in task_rects(svg_of(svg_file.read_text())).items():
        x, y = int(rect.attrib["x"]), int(rect.attrib["y"])
        w, h = int(rect.attrib["width"]), int(rect.attrib["height"])
        for px, py in ((x + w // 2, y + h // 2), (x + 1, y + 1), (x + w - 2, y + h - 2)):
            assert image.pixel(px, py) == rgb(rect.attrib["fill"]), (task, px, py)
        assert image.pixel(x + w, y + h // 2) != rgb(rect.attrib["fill"])  # the gap after it
    assert len(plan.jobs) == 2


def test_show_html_renders_the_same_boxes(tmp_path: Path) -> None:
    plan, _, html_file = _plan_files(tmp_path)
    image = browser.screenshot(html_file, tmp_path / "html.png", SIZE)
    _not_blank(image)
    # Where the page puts the picture is the browser's layout: count the boxes' pixels.
    rects = task_rects(svg_of(html_file.read_text()))
    fill = {r.attrib["fill"] for r in rects.values()}
    assert len(fill) == 1  # one group
    area = sum(int(r.attrib["width"]) * int(r.attrib["height"]) for r in rects.values())
    assert _box_pixels(image)[rgb(fill.pop())] == area == 8 * 12 * 12
    built = browser.dom(html_file)
    assert len(re.findall(r'<rect class="task"', built)) == sum(len(j.tasks) for j in plan.jobs)
    assert "<svg" in built and "<script" not in built


def test_report_html_renders_each_state_in_its_colour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench, (job0, job1) = settled(tmp_path, ("FAILED", "CANCELLED"))
    finish(bench, 0, {
        job0[0][0]: (0, T0, T0 + 40), job0[0][1]: (0, T0 + 40, T0 + 90),
        job0[1][0]: (2, T0 + 3, T0 + 60),
    })  # fmt: skip
    finish(bench, 1, {job1[0][0]: (143, T0 + 5, T0 + 80)})
    page = tmp_path / "report.html"
    code, _, err = Cli(bench, monkeypatch, capsys)("report", "--html", str(page))
    assert code == 0, err
    image = browser.screenshot(page, tmp_path / "report.png", SIZE)
    _not_blank(image)
    pixels = _box_pixels(image)
    rects = task_rects(svg_of(page.read_text()))
    timed = [r for r in rects.values() if r.attrib["data-timed"] == "yes"]
    by_state: Counter[str] = Counter()
    for r in timed:
        by_state[r.attrib["data-state"]] += int(r.attrib["width"]) * int(r.attrib["height"])
    outlines = Counter(r.attrib["data-state"] for r in rects.values() if r not in timed)
    assert set(by_state) == {"COMPLETED", "FAILED", "CANCELLED"}
    assert outlines == {"CANCELLED": 3, "FAILED": 1}  # the tasks without a lane line
    for state, area in by_state.items():
        seen = pixels[rgb(report.STATE_COLOURS[report.RunState(state)])]
        # Each box, plus the legend's swatch (12 x 12) and the dashed outlines of the
        # untimed tasks (within 14 x 14 each, their stroke straddling the edge).
        assert area <= seen <= area + 12 * 12 + outlines[state] * 14 * 14, (state, area, seen)
    built = browser.dom(page)
    assert len(re.findall(r'<rect class="task"', built)) == len(rects) == 8
    assert "suggested time_per_task" in built or "no time_per_task suggested" in built


def test_chromium_version_is_reported() -> None:
    assert browser.version().startswith("Chromium ")


def test_without_chromium_these_tests_skip_but_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the browser tests must run"):
        browser.chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        browser.chromium()
