"""The web console in a real browser: headless Chromium (Debian's `chromium`) driven by
Playwright, against `wf dev` serving the console at /ui. Lists and filters instances,
opens one, reads its timeline, raises the event that completes it, reruns it from an
activity and purges it; then times a page of 1,000 instances and a 1,000-event history
(printed at the end of the run, not asserted) and saves the screenshots of docs/."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.dev_process import ROOT, unavailable, wf_dev
from wf.client import DaprWorkflowClient

APP = ROOT / "tests" / "apps" / "console.py"
DOCS = ROOT / "docs"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _chromium()


@pytest.fixture(autouse=True)
def _browser_needed() -> None:
    if CHROMIUM is None:
        unavailable("no Chromium here (`apt-get install chromium`; .ci/run installs it)")


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Iterator[tuple[str, DaprWorkflowClient]]:
    tmp = tmp_path_factory.mktemp("console")
    config = tmp / "dapr-config.yaml"  # a limit, shown on the list page
    config.write_text("spec:\n  workflow:\n    activityConcurrencyLimits:\n      - {name: greet, maxConcurrent: 8}\n")
    with wf_dev(tmp, APP, "--config", str(config)) as (base, _env, _lines):
        yield base, DaprWorkflowClient(base)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _page(browser, width: int = 1280, height: int = 800):
    # The page's Content-Security-Policy would refuse Playwright's evaluated waits; it
    # is bypassed, so that the XSS test also proves that nothing is injected at all
    # (an injected script would run here), not only that the policy stops it.
    page = browser.new_page(viewport={"width": width, "height": height}, bypass_csp=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())  # confirmations of destructive actions
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _open(page, base: str, hash_: str = "#/") -> None:
    page.goto(f"{base}/ui{hash_}")
    _drawn(page, hash_)


def _drawn(page, hash_: str) -> None:
    """Wait until the console has drawn the page of ``hash_``."""
    page.wait_for_function(f"document.body.dataset.route === {json.dumps(hash_)}")


def test_list_filter_open_timeline_raise_rerun_purge(dev, browser) -> None:
    base, client = dev
    client.schedule_new_workflow("family", input="Ada", instance_id="fam")
    client.schedule_new_workflow("approval", input="Bob", instance_id="bob")
    client.schedule_new_workflow("idle", input=1, instance_id="idle-1")
    client.terminate_workflow("idle-1")
    for iid in ("fam-child", "bob"):
        client._wait(iid, lambda s: s.serialized_custom_status is not None, True, 60)
    client.wait_for_workflow_completion("idle-1")
    page = _open_list(browser, base)

    # The list: every instance, with status in colour and in words, and counts.
    ids = page.locator("#instances tbody tr td:first-child a").all_inner_texts()
    assert {"fam", "fam-child", "bob", "idle-1"} <= set(ids)
    # The deployment's concurrency limits, under the list.
    page.wait_for_selector("#limits:not([hidden])")
    assert page.locator("#limits tbody tr td").all_inner_texts()[:2] == ["greet", "8"]
    row = page.locator("#instances tbody tr", has_text="idle-1")
    assert row.locator(".status").inner_text() == "TERMINATED"
    assert "s-TERMINATED" in (row.locator(".status").get_attribute("class") or "")
    page.wait_for_selector(".counts button[data-status='TERMINATED']")
    assert page.locator(".counts button[data-status='TERMINATED']").inner_text().strip().endswith(" 1")

    # Filter by status, then by name: the filter is in the URL and survives a refresh.
    page.select_option("#f-status", "TERMINATED")
    page.click("#apply")
    page.wait_for_function("document.querySelectorAll('#instances tbody tr').length === 1")
    assert page.locator("#instances tbody tr td:first-child a").all_inner_texts() == ["idle-1"]
    assert "status=TERMINATED" in page.url
    page.reload()
    page.wait_for_selector("#instances")
    assert page.locator("#instances tbody tr td:first-child a").all_inner_texts() == ["idle-1"]
    page.select_option("#f-status", "")
    page.fill("#f-name", "approval")
    page.keyboard.press("Enter")  # the form by keyboard
    page.wait_for_function("document.querySelectorAll('#instances tbody tr').length === 2")
    assert set(page.locator("#instances tbody tr td:first-child a").all_inner_texts()) == {"fam-child", "bob"}

    # Open the child: its parent is linked, its timeline has the activity, the failed
    # try and the retry, the timer.
    page.click("text=fam-child")
    page.wait_for_selector("#instance-timing")
    page.wait_for_selector("#parent")
    assert page.locator("#parent").inner_text() == "fam"
    kinds = page.locator("#timeline .bar").evaluate_all("bars => bars.map(b => b.dataset.kind)")
    assert kinds.count("activity") == 3 and kinds.count("timer") >= 1
    failed = page.locator("#timeline .bar.failed")
    assert failed.count() == 1 and "ConnectionError: try 1" in (failed.get_attribute("title") or "")
    failed.focus()
    page.keyboard.press("Enter")  # the details by keyboard
    assert "error ConnectionError" in page.inner_text("#detail")
    history_types = page.locator("#history tbody tr td:nth-child(4)").all_inner_texts()
    assert "TaskFailed" in history_types and "TimerFired" in history_types

    # Raise the event that completes it; the parent completes with it.
    page.fill("#event-name", "approve")
    page.fill("#event-data", '"yes"')
    page.click("#raise")
    client.wait_for_workflow_completion("fam-child")
    client.wait_for_workflow_completion("fam")
    page.reload()
    page.wait_for_selector("#instance-timing")
    assert page.locator("h1 .status").inner_text() == "COMPLETED"
    assert json.loads(page.locator(".card", has_text="Output").locator("pre").inner_text())["decision"] == "yes"

    # A refusal is shown as the API gives it: pause of a completed instance.
    page.locator("#pause").evaluate("b => b.disabled = false")
    page.click("#pause")
    page.wait_for_selector("#notice:not([hidden])")
    assert "ERR_PAUSE_WORKFLOW" in page.inner_text("#notice")

    # Rerun from the greeting activity: a new instance, that waits for its own event.
    page.select_option("#rerun-from", label="activity greet (task 1)")
    page.click("#rerun")
    page.wait_for_function(
        "(document.body.dataset.route || '').startsWith('#/i/') && !document.body.dataset.route.includes('fam-child')"
    )
    new_id = page.locator("h1 .id").inner_text()
    assert new_id != "fam-child"
    state = client._wait(new_id, lambda s: s.serialized_custom_status is not None, True, 60)
    assert state.runtime_status.value == "RUNNING"

    # Purge the completed parent: gone, with its child, and back to the list.
    _open(page, base, "#/i/fam")
    page.wait_for_selector("#instance-timing")
    assert page.locator("a.child").inner_text().strip() == "fam-child"
    page.click("#purge")
    _drawn(page, "#/")
    assert client.get_workflow_state("fam") is None and client.get_workflow_state("fam-child") is None
    assert page.errors == []  # type: ignore[attr-defined]


def _open_list(browser, base: str):
    page = _page(browser)
    _open(page, base)
    page.wait_for_selector("#instances")
    return page


def test_a_phone_width_and_1000_instances_and_a_1000_event_history(dev, browser, record_property) -> None:
    base, client = dev
    ids = [f"bulk-{n:04d}" for n in range(1000)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: client.schedule_new_workflow("idle", input=1, instance_id=i), ids))
    client.schedule_new_workflow("wide", input=490, instance_id="wide")
    client.wait_for_workflow_completion("wide", timeout_in_seconds=120)

    page = _page(browser)
    _open(page, base, "#/?size=1000&prefix=bulk-")
    timings: list[str] = []
    for load in range(3):  # the first load, then two reloads: one figure is one sample
        if load:
            page.reload()
        page.wait_for_function("document.querySelectorAll('#instances tbody tr').length === 1000")
        listed = page.locator("#list-timing")
        assert listed.get_attribute("data-count") == "1000"
        timings.append(
            f"{float(listed.get_attribute('data-ms')):.0f} ms (the API's answer in {float(listed.get_attribute('data-fetch-ms')):.0f} ms)"
        )
        # The counts' requests done, so that they do not share the next load's time.
        page.wait_for_function("document.querySelectorAll('.counts li button').length === 7")
    record_property(
        "figure", f"console: a page of 1,000 instances, first load {timings[0]}; reloaded, {' and '.join(timings[1:])}"
    )
    page.screenshot(path=str(DOCS / "console-instances.png"))
    # Paging: 1,000 by 100, no instance twice.
    _open(page, base, "#/?size=100&prefix=bulk-")
    seen: list[str] = []
    for _ in range(10):
        page.wait_for_selector("#instances")
        seen += page.locator("#instances tbody tr td:first-child a").all_inner_texts()
        if page.locator("#next").is_disabled():
            break
        page.click("#next")
        page.wait_for_function(
            f"!document.querySelector('#instances tbody td:first-child a') || document.querySelector('#instances tbody td:first-child a').textContent !== {json.dumps(seen[-100])}"
        )
    assert sorted(seen) == ids

    page.wait_for_function("document.querySelectorAll('.counts li button').length === 7")  # its requests done
    _open(page, base, "#/i/wide")
    page.wait_for_selector("#instance-timing")
    drawn = page.locator("#instance-timing")
    assert int(drawn.get_attribute("data-count") or 0) >= 980
    assert page.locator("#timeline .bar").count() == 490
    record_property(
        "figure",
        f"console: a history of {drawn.get_attribute('data-count')} events in {float(drawn.get_attribute('data-ms')):.0f} ms",
    )

    # A phone's width: the instance page of a waiting instance, readable, no sideways page.
    client.schedule_new_workflow("approval", input="Cy", instance_id="phone")
    client._wait("phone", lambda s: s.serialized_custom_status is not None, True, 60)
    _open(page, base, "#/i/phone")
    page.wait_for_selector("#instance-timing")
    page.screenshot(path=str(DOCS / "console-instance.png"))
    phone = _page(browser, 390, 844)
    _open(phone, base, "#/i/phone")
    phone.wait_for_selector("#instance-timing")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.errors == [] and phone.errors == []  # type: ignore[attr-defined]


#: Hostile text in every value the console shows: markup, a script, an event handler,
#: a `javascript:` link. Each would set window.__xss if it ran.
HOSTILE = (
    """<img src=x onerror="window.__xss='img'"><script>window.__xss='script'</script>"""
    """"'><svg onload="window.__xss='svg'"></svg><a href="javascript:window.__xss='link'">click</a>"""
    """javascript:window.__xss='text'"""
)
#: An event name is a path segment: no "/", and the API's routes take no '"' in it.
HOSTILE_EVENT = "<img src=x onerror=window.__xss=1>"


def test_hostile_payloads_names_and_errors_are_shown_as_text(dev, browser) -> None:
    base, client = dev
    client.schedule_new_workflow("hostile", input=HOSTILE, instance_id="xss")
    client._wait("xss", lambda s: s.serialized_custom_status is not None, True, 60)
    client.raise_workflow_event("xss", HOSTILE_EVENT, data=HOSTILE)
    client.raise_workflow_event("xss", "go", data=HOSTILE)
    state = client.wait_for_workflow_completion("xss")
    assert state.runtime_status.name == "FAILED" and HOSTILE in state.failure_details.message

    page = _page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _open(page, base, "#/?prefix=xss")
    page.wait_for_selector("#instances")
    _open(page, base, "#/i/xss")
    page.wait_for_selector("#instance-timing")
    bars = page.locator("#timeline .bar")
    for n in range(bars.count()):  # each bar's details, drawn on click
        bars.nth(n).click()
    text = page.inner_text("#main")
    # Shown, verbatim, as text: the input, custom status, event name and data, failure.
    assert HOSTILE_EVENT in text and "<script>window.__xss='script'</script>" in text
    assert "javascript:window.__xss='text'" in text
    injected = page.evaluate(
        """() => ({
            xss: window.__xss === undefined ? null : String(window.__xss),
            elements: document.querySelectorAll('img, svg, iframe, object, embed, script:not([src="/ui/console.js"])').length,
            handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
            links: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')).filter((h) => !h.startsWith('#')),
        })"""
    )
    assert injected == {"xss": None, "elements": 0, "handlers": 0, "links": []}, injected
    assert dialogs == [] and page.errors == []  # type: ignore[attr-defined]


@pytest.fixture
def proxy(dev) -> Iterator[tuple[str, object]]:
    from tests.dev_process import console_proxy

    with console_proxy(dev[0]) as running:
        yield running


#: A page of another local server (as a page of any site could): it forges "simple"
#: POSTs (no preflight) and a form's POST to wf dev and to the console proxy, and tries
#: to read their answers and the console page's key.
EVIL_PAGE = """<!doctype html><html><body><iframe name="sink"></iframe><script>
const targets = %(targets)s, forged = %(forged)s, log = [];
(async () => {
  for (const t of targets) {
    for (const p of forged) {
      try {
        await fetch(t + p, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: "forged"});
        log.push("sent " + p);
      } catch (e) { log.push("failed " + p); }
    }
    for (const p of ["/v1.0/workflows/dapr/%(victim)s", "/ui", "/v1.0/metadata"]) {
      try { const r = await fetch(t + p); log.push("READ " + p + " " + (await r.text())); }
      catch (e) { log.push("unreadable " + p); }
    }
  }
  const form = document.createElement("form");
  form.method = "POST"; form.enctype = "text/plain"; form.target = "sink";
  form.action = targets[0] + forged[0];
  document.body.append(form);
  form.submit();
  setTimeout(() => { window.evilLog = log; document.title = "done"; }, 1500);
})();
</script></body></html>"""


def test_a_hostile_page_cannot_drive_wf_dev_or_the_console_proxy(dev, browser, proxy) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    base, client = dev
    local, app = proxy
    for iid in ("target", "target-done"):
        client.schedule_new_workflow("idle", input=1, instance_id=iid)
    client.terminate_workflow("target-done")
    client.wait_for_workflow_completion("target-done")
    forged = [
        "/v1.0-beta1/workflows/dapr/target/terminate",
        "/v1.0-beta1/workflows/dapr/target/raiseEvent/never",
        "/v1.0/workflows/dapr/purge?status=TERMINATED",
        "/v1.0/workflows/dapr/target-done/purge",
    ]
    html = EVIL_PAGE % {"targets": json.dumps([base, local]), "forged": json.dumps(forged), "victim": "target"}

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        page = _page(browser)
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        page.wait_for_function("document.title === 'done'", timeout=30000)
        log = page.evaluate("window.evilLog")
    finally:
        evil.shutdown()
    # Sent (a no-cors request's answer is opaque), nothing read, and nothing done.
    assert not [line for line in log if line.startswith("READ")], log
    state = client.get_workflow_state("target")
    assert state is not None and state.runtime_status.name == "RUNNING"
    assert not [e for e in client.get_workflow_history("target") if e.event_type == "EventRaised"]
    assert client.get_workflow_state("target-done") is not None

    # The console itself, through the proxy, at the address it printed: it acts.
    page = _page(browser)
    page.goto(f"{app.url}#/i/target")
    _drawn(page, "#/i/target")
    page.click("#pause")
    client._wait("target", lambda s: s.runtime_status.name == "SUSPENDED", True, 30)
    page.click("#terminate")
    assert client.wait_for_workflow_completion("target").runtime_status.name == "TERMINATED"
    assert page.errors == []  # type: ignore[attr-defined]


def test_screenshots_are_in_docs() -> None:
    # Made by the test above (in this same run when it ran); the README shows them.
    readme = (ROOT / "README.md").read_text()
    for name in ("console-instances.png", "console-instance.png"):
        assert (DOCS / name).exists() and f"docs/{name}" in readme
