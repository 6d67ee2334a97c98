"""Browser tests of the charts (headless Chromium through dash_duo): ``pytest -k chr``.

The figures are read back from the page (the ``data`` Plotly drew, ``.js-plotly-plot``) and
compared with the grid's own rows (dash-ag-grid's API) and with what its cells show.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from layouts import charts as ui
from layouts import ids
from layouts.charts import ChartSpec, encode_specs
from tests.dashboard_seed import ADMIN
from tests.integration.conftest import (
    current_params,
    grid_rows,
    log_in,
    open_path,
    pattern,
    tick,
    wait_until,
)
from tests.integration.test_dashboard import expected_text, fill_interval, run_query

pytestmark = pytest.mark.browser

REFILL = "Balance Refill: Total"
PAYG = "Pay As You Go: Total"
ACTIVE = "Clients - Active: Qty"
RENEW = "Packages: Renew Total"
PRESET_COLUMNS = {  # menu label -> the grid column its chart draws
    "Clients - Active: Qty": ACTIVE,
    "Balance Refill: Total": REFILL,
    "Pay As You Go: Total": PAYG,
    "Packages: Renew Total": RENEW,
}

_FIGURE_JS = """
var gd = document.querySelector(arguments[0] + " .js-plotly-plot");
if (!gd || !gd.data || !gd.layout) { return null; }
function list(a) { return a === undefined || a === null ? null : Array.from(a); }
function title(axis) { return axis && axis.title ? axis.title.text : null; }
return JSON.stringify({
    traces: gd.data.map(function (t) {
        return {name: t.name, type: t.type, x: list(t.x), y: list(t.y), yaxis: t.yaxis || "y",
                labels: list(t.labels), values: list(t.values), hover: list(t.customdata)};
    }),
    title: gd.layout.title ? gd.layout.title.text : null,
    subtitle: gd.layout.title && gd.layout.title.subtitle ? gd.layout.title.subtitle.text : null,
    xtitle: title(gd.layout.xaxis), ytitle: title(gd.layout.yaxis),
    y2title: title(gd.layout.yaxis2), y2overlaying: gd.layout.yaxis2 ?
        gd.layout.yaxis2.overlaying : null,
    barmode: gd.layout.barmode || null,
    annotations: (gd.layout.annotations || []).map(function (a) { return a.text; })
});
"""

_GRID_ROWS_JS = """
try {
    var api = window.dash_ag_grid.getApi(arguments[0]);
    var rows = [];
    api.forEachNode(function (node) { rows.push(node.data); });
    return JSON.stringify(rows);
} catch (error) { return null; }
"""


def graph(index: int) -> str:
    return pattern({"type": ui.GRAPH_TYPE, "index": index})


def card_part(type_: str, index: int) -> str:
    return pattern({"type": type_, "index": index})


def figure(dash_duo, index: int) -> dict | None:
    text = dash_duo.driver.execute_script(_FIGURE_JS, graph(index))
    return json.loads(text) if text else None


def wait_for_figure(dash_duo, index: int, condition) -> dict:
    """The card's drawn figure once ``condition(figure)`` holds."""
    seen: dict = {}

    def ready() -> bool:
        seen["figure"] = figure(dash_duo, index)
        return seen["figure"] is not None and bool(condition(seen["figure"]))

    try:
        wait_until(ready)
    except Exception as error:  # say what was drawn instead
        raise AssertionError(f"chart {index} is {seen.get('figure')!r}") from error
    return seen["figure"]


def report_rows(dash_duo) -> list[dict]:
    """The grid's rows (its rowData, in the order shown)."""
    holder: dict = {}

    def ready() -> bool:
        text = dash_duo.driver.execute_script(_GRID_ROWS_JS, ids.REPORT_GRID)
        holder["rows"] = json.loads(text) if text else []
        return bool(holder["rows"])

    wait_until(ready)
    return holder["rows"]


def show_chart(dash_duo, label: str) -> None:
    """Choose ``label`` in the Show Chart menu."""
    dash_duo.find_element(f"#{ids.SHOW_CHART} .dropdown-toggle").click()
    item = f"//div[@id='{ids.SHOW_CHART}']//*[contains(@class,'dropdown-item')]" \
           f"[normalize-space()='{label}']"
    wait_until(lambda: dash_duo.driver.find_element(By.XPATH, item).is_displayed())
    dash_duo.driver.find_element(By.XPATH, item).click()


def card_indices(dash_duo) -> list[int]:
    """The indices of the open cards, in the order shown."""
    card_ids = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.id);",
        f"#{ids.CHART_AREA} > .dyn-chart-card",
    )
    return [json.loads(i)["index"] for i in card_ids]


def press(dash_duo, selector: str) -> None:
    """Click the element, scrolled to the middle of the window first (Bootstrap scrolls
    smoothly, so the scroll must be instant for the click to land). Adding or removing a card
    draws the cards anew (Dash re-mounts a ``children`` it updates), so a card's button found
    a moment before may be gone: it is then looked up again."""

    def clicked() -> bool:
        try:
            element = dash_duo.find_element(selector)
            dash_duo.driver.execute_script(
                "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
            )
            element.click()
        except StaleElementReferenceException:
            return False
        return True

    wait_until(clicked)


def pick(dash_duo, type_: str, index: int, label: str) -> None:
    """Choose ``label`` in one of a card's builder dropdowns, and close it again."""
    selector = card_part(type_, index)
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
        dash_duo.wait_for_element(selector),
    )
    dash_duo.select_dcc_dropdown(selector, value=label)
    if dash_duo.find_elements(".dash-dropdown-options"):  # a multi-select stays open
        dash_duo.find_element(".dash-dropdown-search").send_keys(Keys.ESCAPE)
    dash_duo.wait_for_no_elements(".dash-dropdown-options")


def chart_param(dash_duo) -> list[ChartSpec]:
    values = [v for k, v in current_params(dash_duo) if k == ui.CHART_PARAM]
    return ui.decode_specs(values[0]) if values else []


def query_month(dash_duo, *groups: str) -> None:
    fill_interval(dash_duo, "2025-01-01", "2025-04-01")
    dash_duo.select_dcc_dropdown(f"#{ids.INTERVAL_TZ}", value="UTC")
    dash_duo.wait_for_text_to_equal(f"#{ids.INTERVAL_TZ} .dash-dropdown-value", "UTC")
    for group in groups:
        tick(dash_duo, ids.GROUP_BY, group)
    run_query(dash_duo)


def test_chr001_each_preset_draws_the_grid_column(dashboard):
    log_in(dashboard, ADMIN)
    query_month(dashboard, "Month")
    rows = report_rows(dashboard)
    periods = [r["Period"] for r in rows]
    assert periods == ["2025-01", "2025-02", "2025-03"]
    shown = grid_rows(dashboard)

    for label in PRESET_COLUMNS:
        show_chart(dashboard, label)
    wait_until(lambda: card_indices(dashboard) == [0, 1, 2, 3])

    for index, (label, column) in enumerate(PRESET_COLUMNS.items()):
        drawn = wait_for_figure(dashboard, index, lambda f: f["traces"])
        (trace,) = drawn["traces"]
        assert trace["x"] == periods
        assert trace["y"] == [r[column] for r in rows]  # the grid's own values
        # The hover text reads like the grid's cells (the money ones with the currency).
        texts = [shown[f"{p}|"][column] for p in periods]
        assert [h.removesuffix(" USD") for h in trace["hover"]] == texts
        assert texts == [expected_text(column, y) for y in trace["y"]]
        assert trace["type"] == "scatter"  # a time grain: a line over time
        assert drawn["title"] == label
        money = column != ACTIVE
        assert drawn["ytitle"] == (f"{column} (USD)" if money else column)
        assert drawn["subtitle"].startswith(
            "2025-01-01 00:00 to 2025-04-01 00:00 (UTC), end excluded"
        )
    wait_until(lambda: [s.preset for s in chart_param(dashboard)] == [
        "active_qty", "refill_total", "payg_total", "renew_total",
    ])
    assert dashboard.get_logs() == []


def test_chr002_blank_chart_builder_with_two_measures_and_a_second_axis(dashboard):
    log_in(dashboard, ADMIN)
    query_month(dashboard, "Month")
    rows = report_rows(dashboard)
    show_chart(dashboard, "Blank Chart")
    dashboard.wait_for_element(card_part(ui.BUILDER_TYPE, 0) + f" {card_part(ui.KIND_TYPE, 0)}")
    wait_for_figure(dashboard, 0, lambda f: f["annotations"] == [ui.NO_MEASURE])

    pick(dashboard, ui.KIND_TYPE, 0, "Stacked bar")
    pick(dashboard, ui.MEASURES_TYPE, 0, REFILL)
    wait_for_figure(dashboard, 0, lambda f: [t["name"] for t in f["traces"]] == [REFILL])
    pick(dashboard, ui.MEASURES_TYPE, 0, ACTIVE)
    wait_for_figure(dashboard, 0, lambda f: len(f["traces"]) == 2)
    pick(dashboard, ui.SECONDARY_TYPE, 0, ACTIVE)
    pick(dashboard, ui.X_TYPE, 0, "Period")
    title = dashboard.find_element(card_part(ui.TITLE_TYPE, 0))
    title.send_keys("Refills and active clients")

    drawn = wait_for_figure(
        dashboard, 0,
        lambda f: f["title"] == "Refills and active clients"
        and [t["yaxis"] for t in f["traces"]] == ["y", "y2"],
    )
    refill, active = drawn["traces"]
    assert (refill["name"], refill["type"]) == (REFILL, "bar")
    assert refill["y"] == [r[REFILL] for r in rows]
    assert active["y"] == [r[ACTIVE] for r in rows]
    assert refill["x"] == active["x"] == [r["Period"] for r in rows]
    assert drawn["barmode"] == "relative"
    assert drawn["ytitle"] == f"{REFILL} (USD)"
    assert (drawn["y2title"], drawn["y2overlaying"]) == (ACTIVE, "y")
    dashboard.wait_for_text_to_equal(card_part(ui.CARD_LABEL_TYPE, 0),
                                     "Refills and active clients")

    built = ChartSpec(preset="blank", kind="stacked", measures=(REFILL, ACTIVE),
                      secondary=ACTIVE, x="period", title="Refills and active clients",
                      editing=True)
    wait_until(lambda: chart_param(dashboard) == [built])  # the address bar keeps it

    # "Done" folds the builder away; the chart stays.
    press(dashboard, card_part(ui.EDIT_TYPE, 0))
    wait_until(lambda: not dashboard.find_element(card_part(ui.BUILDER_TYPE, 0)).is_displayed())
    dashboard.wait_for_text_to_equal(card_part(ui.EDIT_TYPE, 0), "Edit")
    assert len(figure(dashboard, 0)["traces"]) == 2
    assert dashboard.get_logs() == []


def test_chr003_a_preset_turns_into_a_builder_and_cards_can_be_removed(dashboard):
    log_in(dashboard, ADMIN)
    query_month(dashboard, "Month")
    rows = report_rows(dashboard)
    show_chart(dashboard, "Balance Refill: Total")
    show_chart(dashboard, "Pay As You Go: Total")
    show_chart(dashboard, "Clients - Active: Qty")
    wait_until(lambda: card_indices(dashboard) == [0, 1, 2])
    assert not dashboard.find_element(card_part(ui.BUILDER_TYPE, 1)).is_displayed()

    # Edit the middle one: add refills to pay-as-you-go, as bars.
    press(dashboard, card_part(ui.EDIT_TYPE, 1))
    wait_until(lambda: dashboard.find_element(card_part(ui.BUILDER_TYPE, 1)).is_displayed())
    pick(dashboard, ui.MEASURES_TYPE, 1, REFILL)
    pick(dashboard, ui.KIND_TYPE, 1, "Bar")
    drawn = wait_for_figure(dashboard, 1, lambda f: [(t["name"], t["type"]) for t in f["traces"]]
                            == [(PAYG, "bar"), (REFILL, "bar")])
    assert drawn["traces"][1]["y"] == [r[REFILL] for r in rows]

    # Adding and removing cards leaves the others as the user made them.
    show_chart(dashboard, "Packages: Renew Total")
    wait_until(lambda: card_indices(dashboard) == [0, 1, 2, 3])
    press(dashboard, card_part(ui.REMOVE_TYPE, 3))
    press(dashboard, card_part(ui.REMOVE_TYPE, 0))
    wait_until(lambda: card_indices(dashboard) == [1, 2])
    assert dashboard.find_element(card_part(ui.BUILDER_TYPE, 1)).is_displayed()
    measures = dashboard.find_elements(
        f"{card_part(ui.MEASURES_TYPE, 1)} .dash-dropdown-value-item"
    )
    assert [m.text for m in measures] == [PAYG, REFILL]
    drawn = wait_for_figure(dashboard, 1, lambda f: f["traces"])
    assert [t["name"] for t in drawn["traces"]] == [PAYG, REFILL]
    assert drawn["traces"][0]["y"] == [r[PAYG] for r in rows]
    wait_until(lambda: [s.preset for s in chart_param(dashboard)] == ["payg_total", "active_qty"])
    assert chart_param(dashboard)[0].measures == (PAYG, REFILL)

    press(dashboard, card_part(ui.REMOVE_TYPE, 2))
    wait_until(lambda: card_indices(dashboard) == [1])
    press(dashboard, card_part(ui.REMOVE_TYPE, 1))
    wait_until(lambda: card_indices(dashboard) == [])
    wait_until(lambda: ui.CHART_PARAM not in dict(current_params(dashboard)))
    assert dashboard.get_logs() == []


def test_chr004_charts_after_grouping_by_package(dashboard):
    log_in(dashboard, ADMIN)
    query_month(dashboard, "Month", "Package Name")
    rows = report_rows(dashboard)
    packages = sorted({r["Package"] for r in rows})
    assert packages == ["P1", "P2"]
    show_chart(dashboard, "Packages: Renew Total")
    drawn = wait_for_figure(dashboard, 0, lambda f: len(f["traces"]) == 2)
    assert [t["name"] for t in drawn["traces"]] == packages  # a line per package
    for trace in drawn["traces"]:
        mine = [r for r in rows if r["Package"] == trace["name"]]
        assert trace["x"] == [r["Period"] for r in mine]
        assert trace["y"] == [r[RENEW] for r in mine]
    assert drawn["ytitle"] == f"{RENEW} (USD)"

    # Package only: the packages on x; the open chart follows the new report.
    tick(dashboard, ids.GROUP_BY, "Month")  # untick
    dashboard.find_element(f"#{ids.QUERY_BUTTON}").click()
    wait_until(lambda: {r["Period"] for r in report_rows(dashboard)} == {
        "2025-01-01T00:00/2025-04-01T00:00"})
    rows = report_rows(dashboard)
    drawn = wait_for_figure(dashboard, 0, lambda f: f["xtitle"] == "Package")
    (trace,) = drawn["traces"]
    assert trace["type"] == "bar"
    assert trace["x"] == [r["Package"] for r in rows] == packages
    assert trace["y"] == [r[RENEW] for r in rows]
    assert dashboard.get_logs() == []


def test_chr005_a_bookmarked_url_brings_its_charts_back(dashboard):
    specs = [
        ChartSpec.for_preset("refill_total"),
        ChartSpec(kind="stacked", measures=(REFILL, PAYG), x="period",
                  title="Refills vs pay-as-you-go"),
    ]
    log_in(dashboard, ADMIN)
    open_path(dashboard, "/?from=2025-01-01T00:00&to=2025-04-01T00:00&tz=UTC&group=month"
                         f"&chart={quote(encode_specs(specs))}")
    wait_until(lambda: card_indices(dashboard) == [0, 1])
    waiting = wait_for_figure(dashboard, 1, lambda f: f["annotations"])
    assert waiting["annotations"] == [ui.NO_REPORT]  # a bookmark does not run the query
    dashboard.wait_for_text_to_equal(card_part(ui.CARD_LABEL_TYPE, 1), "Refills vs pay-as-you-go")

    run_query(dashboard)
    rows = report_rows(dashboard)
    drawn = wait_for_figure(dashboard, 1, lambda f: len(f["traces"]) == 2)
    assert [(t["name"], t["type"]) for t in drawn["traces"]] == [(REFILL, "bar"), (PAYG, "bar")]
    assert drawn["barmode"] == "relative"
    assert [t["y"] for t in drawn["traces"]] == [[r[REFILL] for r in rows],
                                                 [r[PAYG] for r in rows]]
    first = wait_for_figure(dashboard, 0, lambda f: f["traces"])
    assert first["traces"][0]["y"] == [r[REFILL] for r in rows]

    # Changing the form rewrites the address; the charts stay in it.
    tick(dashboard, ids.GROUP_BY, "Date")
    wait_until(lambda: ("group", "date") in current_params(dashboard))
    wait_until(lambda: chart_param(dashboard) == specs)
    assert dashboard.get_logs() == []


def test_chr006_a_cards_data_downloads_as_csv(dashboard):
    log_in(dashboard, ADMIN)
    query_month(dashboard, "Month", "Package Name")
    rows = report_rows(dashboard)
    show_chart(dashboard, "Balance Refill: Total")
    wait_for_figure(dashboard, 0, lambda f: f["traces"])
    press(dashboard, card_part(ui.CSV_TYPE, 0))
    folder = Path(dashboard.download_path)
    wanted = folder / "customer-dynamics_2025-01-01_2025-04-01_balance-refill-total.csv"
    wait_until(lambda: wanted.exists() and wanted.stat().st_size > 0)
    frame = pd.read_csv(wanted, dtype=str, encoding="utf-8-sig")
    assert list(frame.columns) == ["Period", "Package", REFILL]
    assert frame.values.tolist() == [
        [r["Period"], r["Package"], f"{r[REFILL]:.2f}"] for r in rows
    ]
    assert dashboard.get_logs() == []
