"""Saved query templates: save, load, visibility, rename and delete by the owner only."""

from __future__ import annotations

import json

import pytest

from extensions import db
from metrics.errors import ReportError
from store import templates
from store.models import Company, User
from store.templates import TemplateError
from store.users import AccountInfo

ALICE = AccountInfo(id=1, login="alice", role="manager", company_id=2, email=None)
BOB = AccountInfo(id=2, login="bob", role="reseller", company_id=2, email=None)  # alice's colleague
CAROL = AccountInfo(id=3, login="carol", role="admin", company_id=1, email=None)  # parent company

LAST_MONTH = {"preset": "last_month", "from": "2025-03-01T00:00", "to": "2025-04-01T00:00",
              "tz": "Europe/Berlin", "group": ["date", "package"], "currency": "EUR",
              "active": "3", "tag": ["vip", "gold"], "package": ["1"]}


@pytest.fixture
def ctx(app):
    with app.server.app_context():
        with db.session() as session:
            session.add_all([Company(id=1, name="Op"), Company(id=2, name="R1", parent_id=1)])
            session.flush()
            for user in (ALICE, BOB, CAROL):
                session.add(User(id=user.id, login=user.login, password_hash="!", role=user.role,
                                 company_id=user.company_id))
        yield app.server


def test_tpl001_save_and_load_keeps_the_relative_preset(ctx):
    saved = templates.save(ALICE, "  Monthly   EUR ", LAST_MONTH, description="for the board")
    assert saved.name == "Monthly EUR"
    loaded = templates.get(saved.id, ALICE)
    assert loaded is not None
    assert loaded.params == LAST_MONTH
    assert loaded.params["preset"] == "last_month"
    assert (loaded.description, loaded.visibility, loaded.owner_login) == (
        "for the board", "private", "alice")
    assert loaded.created_at == loaded.updated_at


def test_tpl002_duplicate_name_is_a_clear_error(ctx):
    templates.save(ALICE, "Monthly", LAST_MONTH)
    with pytest.raises(TemplateError, match="you already have a saved query named 'monthly'"):
        templates.save(ALICE, "monthly", LAST_MONTH)
    # The same name is fine for somebody else.
    assert templates.save(BOB, "Monthly", LAST_MONTH).name == "Monthly"
    assert issubclass(TemplateError, ReportError)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("", {}, "give the query a name"),
        ("   ", {}, "give the query a name"),
        ("x" * 101, {}, "the name is too long"),
        ("ok", {"visibility": "public"}, "choose who may see the query"),
        ("ok", {"description": "d" * 1001}, "the description is too long"),
    ],
)
def test_tpl003_invalid_input_is_refused_with_a_safe_message(ctx, name, kwargs, message):
    with pytest.raises(TemplateError, match=message):
        templates.save(ALICE, name, LAST_MONTH, **kwargs)
    assert templates.list_for(ALICE) == []


def test_tpl004_visibility_private_and_company(ctx):
    private = templates.save(ALICE, "Mine", LAST_MONTH)
    shared = templates.save(ALICE, "Ours", LAST_MONTH, visibility="company")
    own_of_bob = templates.save(BOB, "Bob's", LAST_MONTH)

    assert [t.name for t in templates.list_for(ALICE)] == ["Mine", "Ours"]
    assert [t.name for t in templates.list_for(BOB)] == ["Bob's", "Ours"]
    # The parent company's users do not see a subsidiary's company templates.
    assert templates.list_for(CAROL) == []

    assert templates.get(private.id, BOB) is None
    assert templates.get(shared.id, BOB).params == LAST_MONTH
    assert templates.get(own_of_bob.id, ALICE) is None
    assert templates.get(shared.id, CAROL) is None
    assert templates.get("nonsense", ALICE) is None
    assert templates.get(10_000, ALICE) is None


def test_tpl005_rename_by_the_owner_only(ctx):
    shared = templates.save(ALICE, "Ours", LAST_MONTH, visibility="company")
    templates.save(ALICE, "Taken", LAST_MONTH)
    with pytest.raises(TemplateError, match="only the owner"):
        templates.rename(shared.id, BOB, "Bob was here")
    with pytest.raises(TemplateError, match="no such saved query"):
        templates.rename(shared.id, CAROL, "Carol was here")
    with pytest.raises(TemplateError, match="already have a saved query named 'taken'"):
        templates.rename(shared.id, ALICE, "taken")

    renamed = templates.rename(shared.id, ALICE, "Ours, monthly")
    assert renamed.name == "Ours, monthly"
    assert templates.get(shared.id, BOB).name == "Ours, monthly"
    assert renamed.updated_at >= renamed.created_at
    # Renaming to the same name in another case is no conflict with itself.
    assert templates.rename(shared.id, ALICE, "OURS, MONTHLY").name == "OURS, MONTHLY"


def test_tpl006_delete_by_the_owner_only(ctx):
    shared = templates.save(ALICE, "Ours", LAST_MONTH, visibility="company")
    with pytest.raises(TemplateError, match="only the owner"):
        templates.delete(shared.id, BOB)
    assert templates.get(shared.id, BOB) is not None
    templates.delete(shared.id, ALICE)
    assert templates.get(shared.id, ALICE) is None
    assert templates.list_for(BOB) == []
    with pytest.raises(TemplateError, match="no such saved query"):
        templates.delete(shared.id, ALICE)


def test_tpl007_only_query_parameters_are_stored(ctx):
    saved = templates.save(ALICE, "Clean", {**LAST_MONTH, "send-to": ["x@example.com"],
                                            "_form": {"open": True}, "owner": [7, 8]})
    assert templates.get(saved.id, ALICE).params == {**LAST_MONTH, "owner": ["7", "8"]}
    with pytest.raises(TemplateError, match="no query parameters"):
        templates.save(ALICE, "Nothing", {"send-to": "x@example.com"})


# --------------------------------------------------------------------------- the HTTP callback API


def _register(dash_app) -> None:
    """Wire this feature's callbacks unless app.py already does."""
    from callbacks import templates as template_callbacks

    if not any("saved-queries-version.data" in key for key in dash_app.callback_map):
        template_callbacks.register(dash_app)


@pytest.fixture
def api(app):
    """A test client logged in as alice, with the template callbacks wired."""
    from store.users import set_password

    _register(app)
    with app.server.app_context(), db.session() as session:
        session.add_all([Company(id=1, name="Op"), Company(id=2, name="R1", parent_id=1)])
        session.flush()
        for user in (ALICE, BOB, CAROL):
            session.add(User(id=user.id, login=user.login, password_hash="!", role=user.role,
                             company_id=user.company_id))
        session.flush()
        for user in (ALICE, BOB, CAROL):
            set_password(session, user.login, f"{user.login}-password")
    client = app.server.test_client()
    client.dash_app = app
    return client


def log_in(client, user: AccountInfo) -> None:
    response = client.post("/login", data={"login": user.login,
                                           "password": f"{user.login}-password"})
    assert response.status_code == 302


def call(client, output_part: str, inputs: list[dict], state: list | None = None,
         changed: str | None = None) -> dict:
    """POST /_dash-update-component for the callback whose output names ``output_part``."""
    key = next(k for k in client.dash_app.callback_map if output_part in k)
    outputs = []
    for part in key.strip(".").split("..."):
        component_id, prop = part.rsplit(".", 1)
        outputs.append({"id": component_id, "property": prop})
    body = {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": inputs,
        "state": state or [],
        "changedPropIds": [changed or f"{inputs[0]['id']}.{inputs[0]['property']}"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code in (200, 204), response.data
    return response.get_json() if response.status_code == 200 else {}


def form_state(**overrides: object) -> list[dict]:
    """The form's State values, as the browser sends them, for LAST_MONTH."""
    values = {
        "interval-start": "2025-03-01 00:00",
        "interval-end": "2025-04-01 00:00",
        "interval-tz": "Europe/Berlin",
        "interval-preset": {"name": "last_month", "from": "2025-03-01 00:00",
                            "to": "2025-04-01 00:00"},
        "group-by": ["date", "package"],
        "currency": "EUR",
        "active-duration": 3,
        "output-type": "web",
        "active-filters": ["tag", "package"],
    } | overrides
    props = {"interval-preset": "data", "active-filters": "data"}
    state = [{"id": k, "property": props.get(k, "value"), "value": v} for k, v in values.items()]
    filters = {"type": None, "tag": ["vip", "gold"], "company": None, "owner": [4],
               "package": [1]}  # owner was never added as a filter: it must not count
    for kind, value in filters.items():
        state.append({"id": {"type": "filter-value", "kind": kind}, "property": "value",
                      "value": value})
    state.append({"id": "chart-state", "property": "data", "value": None})  # no open charts
    return state


def save_call(client, name: str, visibility: str = "private", version: int = 0) -> dict:
    return call(
        client,
        "save-query-done.children",
        [{"id": "save-query-submit", "property": "n_clicks", "value": 1}],
        [
            {"id": "save-query-name", "property": "value", "value": name},
            {"id": "save-query-description", "property": "value", "value": "board pack"},
            {"id": "save-query-visibility", "property": "value", "value": visibility},
            {"id": "saved-queries-version", "property": "data", "value": version},
            *form_state(),
        ],
    )


def test_tpl020_save_through_the_callback_keeps_the_preset(api):
    log_in(api, ALICE)
    answer = save_call(api, "Monthly EUR")["response"]
    assert answer["save-query-modal"]["is_open"] is False
    assert answer["save-query-done"]["children"] == "Saved “Monthly EUR”."
    assert answer["saved-queries-version"]["data"] == 1
    with api.application.app_context():
        (saved,) = templates.list_for(ALICE)
    assert saved.params == {"from": "2025-03-01T00:00", "to": "2025-04-01T00:00",
                            "tz": "Europe/Berlin", "preset": "last_month",
                            "group": ["date", "package"], "currency": "EUR", "active": "3",
                            "tag": ["vip", "gold"], "package": ["1"], "output": "web"}
    assert saved.description == "board pack"

    again = save_call(api, "monthly eur", version=1)["response"]
    assert again["save-query-modal"]["is_open"] is True
    assert again["save-query-error"]["children"] == (
        "you already have a saved query named 'monthly eur'")
    assert "saved-queries-version" not in again


def test_tpl021_load_menu_appears_with_a_template_and_fills_the_form(api):
    log_in(api, BOB)
    empty = call(api, "load-query-slot.children",
                 [{"id": "saved-queries-version", "property": "data", "value": 0}])
    assert empty["response"]["load-query-slot"]["children"] == []

    log_in(api, ALICE)
    save_call(api, "Mine")
    save_call(api, "Ours", visibility="company")
    log_in(api, BOB)
    menu = call(api, "load-query-slot.children",
                [{"id": "saved-queries-version", "property": "data", "value": 2}])
    dropdown = menu["response"]["load-query-slot"]["children"][0]["props"]
    assert dropdown["id"] == "load-query"
    assert [o["label"] for o in dropdown["options"]] == ["Ours — by alice"]

    chosen = dropdown["options"][0]["value"]
    loaded = call(api, "form-load.data",
                  [{"id": "load-query", "property": "value", "value": chosen}])["response"]
    assert loaded["form-load"]["data"] == {
        "from": "2025-03-01T00:00", "to": "2025-04-01T00:00", "tz": "Europe/Berlin",
        "preset": "last_month", "group": ["date", "package"], "currency": "EUR", "active": "3",
        "tag": ["vip", "gold"], "package": ["1"], "output": "web"}
    assert loaded["load-query"]["value"] is None

    with api.application.app_context():
        private_id = next(t.id for t in templates.list_for(ALICE) if t.name == "Mine")
    refused = call(api, "form-load.data",
                   [{"id": "load-query", "property": "value", "value": private_id}])
    assert "form-load" not in refused.get("response", {})


def test_tpl022_rename_and_delete_through_the_callbacks_by_the_owner_only(api):
    log_in(api, ALICE)
    save_call(api, "Ours", visibility="company")
    with api.application.app_context():
        (shared,) = templates.list_for(ALICE)
    rename_id = {"type": "saved-query-rename", "index": shared.id}
    delete_id = {"type": "saved-query-delete", "index": shared.id}
    name_id = {"type": "saved-query-name", "index": shared.id}

    def change(clicked: dict, new_name: str) -> dict:
        return call(
            api,
            "manage-queries-error.children",
            [[{"id": rename_id, "property": "n_clicks",
               "value": 1 if clicked is rename_id else 0}],
             [{"id": delete_id, "property": "n_clicks",
               "value": 1 if clicked is delete_id else 0}]],
            [[{"id": name_id, "property": "value", "value": new_name}],
             [{"id": name_id, "property": "id", "value": name_id}],
             {"id": "saved-queries-version", "property": "data", "value": 5}],
            changed=json.dumps(clicked, separators=(",", ":"), sort_keys=True) + ".n_clicks",
        )["response"]

    log_in(api, BOB)
    assert change(delete_id, "")["manage-queries-error"]["children"] == (
        "only the owner of a saved query can change or delete it")
    assert change(rename_id, "Bob's now")["manage-queries-error"]["children"] == (
        "only the owner of a saved query can change or delete it")

    log_in(api, ALICE)
    renamed = change(rename_id, "Ours monthly")
    assert renamed["manage-queries-error"]["children"] == ""
    assert renamed["saved-queries-version"]["data"] == 6
    with api.application.app_context():
        assert templates.get(shared.id, BOB).name == "Ours monthly"
    change(delete_id, "")
    with api.application.app_context():
        assert templates.list_for(BOB) == []


def test_tpl023_anonymous_callback_requests_are_refused(api):
    response = api.post("/_dash-update-component", json={"output": "x.y", "inputs": []})
    assert response.status_code == 401
