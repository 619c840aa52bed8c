#!/usr/bin/python3
"""The web admin in headless Chromium, driven by Selenium (Debian's chromium-driver; no
browser download). Run by tests/it/web_ui.rs against the real server:

    ui.py BASE_URL TOKEN MEDIA_DIR OUT_DIR

Every page loads with no console error and no failed request; log in; create a channel
through the form (its name an XSS attempt) and find it in /hdhomerun/lineup.json; add a
folder and see the scan's progress bar reach 100 %; the guide shows the demo channel's
programmes; a 422 shows beside its field; 360 px wide has no horizontal scroll.
Screenshots go to OUT_DIR. Prints figures as `figure: name value`."""

import json
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, NoSuchElementException,
                                        StaleElementReferenceException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE, TOKEN, MEDIA, OUT = sys.argv[1:5]
PAGES = ["dashboard", "channels", "guide", "libraries", "collections", "playlists",
         "schedules", "filler", "blocks", "templates", "deco", "watermarks", "settings",
         "logs", "devices", "ai"]
XSS = "<img src=x onerror=alert(1)>"


def driver():
    opts = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions"]:
        opts.add_argument(arg)
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def wait(d, cond, what, timeout=15):
    try:
        return WebDriverWait(d, timeout, poll_frequency=0.05,
                             ignored_exceptions=[StaleElementReferenceException, NoSuchElementException]
                             ).until(lambda _: cond())
    except Exception:
        d.save_screenshot(f"{OUT}/failed.png")
        raise AssertionError(f"timed out waiting for {what}")


def errors(d, allowed=()):
    """Console errors (a failed request shows there too) since the last call."""
    bad = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    return [e["message"] for e in bad if not any(a in e["message"] for a in allowed)]


def no_alert(d):
    try:
        text = d.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError(f"an alert ran: {text}")


def open_page(d, name):
    d.get(f"{BASE}/#/{name}")
    wait(d, lambda: d.execute_script(
        "const p = document.querySelector('.page'); return p && p.dataset.page === arguments[0]"
        " && (p.dataset.ready === '1' || !!p.querySelector('.err[role=alert]'))", name),
        f"page {name}")
    failed = d.find_elements(By.CSS_SELECTOR, ".page > p.err")
    assert not failed, f"{name}: {failed[0].text}"


def login(d):
    d.get(BASE + "/")
    token = wait(d, lambda: d.find_element(By.ID, "f-token"), "the login form")
    assert "api-token" in d.find_element(By.ID, "main").text
    token.send_keys("wrong")
    token.submit()
    wait(d, lambda: d.find_element(By.ID, "f-token-err").text, "the wrong token's message")
    token.clear()
    token.send_keys(TOKEN)
    token.submit()
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, "nav a"), "the navigation")
    errors(d)  # the wrong token's 401 was expected


def every_page(d, tag):
    for name in PAGES:
        open_page(d, name)
        time.sleep(0.2)
        d.save_screenshot(f"{OUT}/{tag}-{name}.png")
        bad = errors(d)
        assert not bad, f"{name}: {bad}"
        wide = d.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wide <= 0, f"{name} at {tag}: {wide} px of horizontal scroll"


def create_channel(d):
    open_page(d, "channels")
    d.find_element(By.XPATH, "//button[text()='New channel']").click()
    d.find_element(By.ID, "f-number").send_keys("901")
    d.find_element(By.ID, "f-name").send_keys(XSS)
    d.find_element(By.ID, "f-name").submit()
    wait(d, lambda: XSS in d.find_element(By.ID, "main").text, "the new channel in the list")
    no_alert(d)
    assert not d.find_elements(By.CSS_SELECTOR, "main img"), "the name became markup"
    lineup = json.load(urllib.request.urlopen(f"{BASE}/hdhomerun/lineup.json"))
    assert any(c["GuideNumber"] == "901" and c["GuideName"] == XSS for c in lineup), lineup
    open_page(d, "guide")
    no_alert(d)


def watch(d):
    """The demo channel's HLS plays in the page's own video element."""
    open_page(d, "channels")
    d.find_element(By.XPATH, "//button[starts-with(@aria-label, 'Watch ')]").click()
    wait(d, lambda: d.execute_script("const v = document.querySelector('.player video');"
                                     " return v && v.currentTime > 1 && !v.error"),
         "the preview to play", timeout=60)
    d.save_screenshot(f"{OUT}/desktop-watch.png")
    d.find_element(By.XPATH, "//button[text()='Close']").click()
    # The channel still runs a moment after its viewer left: the dashboard lists it with
    # its mode (copy or transcode) and viewers.
    open_page(d, "dashboard")
    wait(d, lambda: any(m in d.find_element(By.ID, "main").text for m in (" transcode", " copy")),
         "the live stream's mode on the dashboard", timeout=10)


def scan(d):
    open_page(d, "libraries")
    d.find_element(By.ID, "f-name").send_keys("Clips")
    d.find_element(By.ID, "f-path").send_keys(MEDIA)
    d.find_element(By.ID, "f-path").submit()
    bar = wait(d, lambda: d.find_element(By.CSS_SELECTOR, "progress"), "the progress bar")
    wait(d, lambda: "done" in d.find_element(By.CSS_SELECTOR, "progress").find_element(By.XPATH, "..").text,
         "the scan to finish", timeout=40)
    assert d.execute_script("return document.querySelector('progress').value") == 100
    del bar
    errs = d.find_elements(By.CSS_SELECTOR, "ul.errors li")
    assert any("broken.mp4" in e.text for e in errs), "the broken file's error is not shown"


def guide(d):
    open_page(d, "guide")
    progs = d.find_elements(By.CSS_SELECTOR, ".prog")
    assert progs, "the guide shows no programme"
    progs[0].click()
    assert d.find_element(By.CSS_SELECTOR, ".detail").text, "no details on click"


def ai_plan(d):
    """A plan from plain words over the scanned clips, previewed, then created: the new
    channel is in the lineup."""
    open_page(d, "ai")
    d.find_element(By.ID, "f-request").send_keys("a channel of clips all day")
    d.find_element(By.XPATH, "//button[text()='Plan']").click()
    wait(d, lambda: d.find_element(By.CSS_SELECTOR, ".plan h3").text, "the plan preview")
    create = d.find_element(By.CSS_SELECTOR, ".plan > button")
    assert create.is_enabled(), d.find_element(By.CSS_SELECTOR, ".plan").text
    number = d.find_element(By.CSS_SELECTOR, ".plan h3").text.split()[0]
    create.click()
    wait(d, lambda: "created" in d.find_element(By.CSS_SELECTOR, ".plan").text, "the channel created")
    lineup = json.load(urllib.request.urlopen(f"{BASE}/hdhomerun/lineup.json"))
    assert any(c["GuideNumber"] == number for c in lineup), (number, lineup)
    assert "No LLM is configured" in d.find_element(By.ID, "main").text


def invalid_setting(d):
    open_page(d, "settings")
    field = d.find_element(By.ID, "f-hdhomerun-tuner_count")
    field.clear()
    field.send_keys("99")
    field.submit()
    err = wait(d, lambda: d.find_element(By.ID, "f-hdhomerun-tuner_count-err").text, "the 422 beside tuner_count")
    print(f"422 beside tuner_count: {err}")
    errors(d, ("422",))  # the refused PUT itself


def expired_session(d):
    """A session the server no longer knows: back to the login form, once, not a loop."""
    open_page(d, "channels")
    d.add_cookie({"name": "exstreamtv_session", "value": "00" * 32, "path": "/"})
    d.get("about:blank")
    d.get(f"{BASE}/#/dashboard")
    wait(d, lambda: d.find_element(By.ID, "f-token"), "the login form for an expired session")
    count = d.execute_script("return performance.getEntriesByType('resource').length")
    time.sleep(1.5)
    assert d.execute_script("return performance.getEntriesByType('resource').length") == count, "requests loop"
    token = d.find_element(By.ID, "f-token")
    token.send_keys(TOKEN)
    token.submit()
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, ".page[data-ready]"), "the page after logging in again")
    bad = errors(d)
    assert not bad, bad


def api_get(path):
    req = urllib.request.Request(BASE + path, headers={"Authorization": f"Bearer {TOKEN}"})
    return json.load(urllib.request.urlopen(req))


def schedule(d):
    """A schedule made through its form, and an item appended to it."""
    open_page(d, "schedules")
    d.find_element(By.ID, "f-name").send_keys("Evenings")
    d.find_element(By.ID, "f-name").submit()
    wait(d, lambda: d.find_elements(By.XPATH, "//tr[td[text()='Evenings']]"), "the new schedule")
    row = d.find_element(By.XPATH, "//tr[td[text()='Evenings']]")
    row.find_element(By.XPATH, ".//button[text()='Items']").click()
    collection = api_get("/api/collections")[0]["id"]
    wait(d, lambda: d.find_element(By.ID, "f-si-collection_id"), "the items form").send_keys(str(collection))
    d.find_element(By.ID, "f-si-collection_id").submit()
    wait(d, lambda: len(d.find_elements(By.XPATH, "//section[h2[text()='Items of Evenings']]//tbody/tr")) == 1,
         "the schedule's first item")
    sched = next(x for x in api_get("/api/schedules") if x["name"] == "Evenings")
    assert len(api_get(f"/api/schedule-items?schedule_id={sched['id']}")) == 1


def api_put(path, body):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="PUT",
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))


def fake_jellyfin():
    """A Jellyfin server on loopback with one empty movie library; its port."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?")[0]
            body = {"/System/Info/Public": {"ServerName": "Fake", "Version": "10.9.0"},
                    "/Library/VirtualFolders": [{"Name": "Films", "ItemId": "lib1", "CollectionType": "movies"}],
                    "/Items": {"Items": [], "TotalRecordCount": 0}}.get(path, {})
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def remote_library(d):
    """A Jellyfin library found through the form, added, and scanned to done."""
    port = fake_jellyfin()
    api_put("/api/settings/sources", {"allow_loopback": True})
    open_page(d, "libraries")
    d.find_element(By.CSS_SELECTOR, "#f-source_type option[value=jellyfin]").click()
    d.find_element(By.ID, "f-server_url").send_keys(f"http://127.0.0.1:{port}")
    d.find_element(By.ID, "f-token").send_keys("key")
    d.find_element(By.XPATH, "//button[text()='Find its libraries']").click()
    add = wait(d, lambda: d.find_element(By.XPATH, "//td[text()='Films']/..//button[text()='Add']"), "the server's library")
    add.click()
    wait(d, lambda: "done" in d.find_element(By.CSS_SELECTOR, "progress").find_element(By.XPATH, "..").text,
         "the remote library's scan", timeout=40)
    assert "Films" in d.find_element(By.ID, "main").text


def api_post(path, body):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))


def big_guide(d):
    """100 channels (mirrors of the demo, so each has programmes) x 6 h render in time."""
    demo = next(c for c in api_get("/api/channels") if c["number"] == "1")
    for n in range(2, 101):
        api_post("/api/channels", {"number": str(1000 + n), "name": f"Mirror {n}",
                                   "playout_source": "mirror", "mirror_source_channel_id": demo["id"]})
    d.get("about:blank")
    d.get(f"{BASE}/#/guide")
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, ".page[data-ready]"), "the 100-channel guide", timeout=30)
    ready = float(d.execute_script("return document.querySelector('.page').dataset.readyMs"))
    rows = d.execute_script("return document.querySelectorAll('.guide .grow').length") - 1
    progs = d.execute_script("return document.querySelectorAll('.prog').length")
    print(f"figure: guide_100_channels_ready_ms {ready:.1f} ({rows} rows, {progs} programmes)")
    assert rows >= 100 and progs >= 100 * 2, (rows, progs)
    assert ready < 5000, f"the 100-channel guide took {ready} ms"


def big_library(d):
    """A 10,000-item library: the media list pages (50 a page) and its search answers."""
    ask_harness("seed-media")
    open_page(d, "libraries")
    pager = wait(d, lambda: d.find_element(By.CSS_SELECTOR, "p.pager"), "the media pager")
    assert "of 100" in pager.text, pager.text  # 10,0xx items
    started = time.time()
    d.find_element(By.XPATH, "//p[@class='pager']/button[text()='Next']").click()
    wait(d, lambda: d.find_element(By.CSS_SELECTOR, "p.pager").text.strip().startswith("Previous 51"),
         "the second page")
    print(f"figure: media_next_page_ms {1000 * (time.time() - started):.0f}")
    search = d.find_element(By.ID, "f-search")
    search.send_keys("Big 09999")
    wait(d, lambda: "1–1 of 1" in d.find_element(By.CSS_SELECTOR, "p.pager").text, "the search's one match")
    assert "Big 09999" in d.find_element(By.ID, "main").text


def odd_names(d):
    """Quotes, ampersands, angle brackets and emoji in a name are shown as they are."""
    name = 'Quote "q" & \'a\' <b>bold</b> 📺'
    api_post("/api/channels", {"number": "902", "name": name})
    open_page(d, "channels")
    assert name in d.find_element(By.ID, "main").text
    assert not d.find_elements(By.CSS_SELECTOR, "main b"), "the name became markup"
    no_alert(d)


def ask_harness(line):
    """One step done by the Rust test around us (stop or start the server); waits for it."""
    print(line, flush=True)
    assert sys.stdin.readline().strip() == "done", f"the harness did not {line}"


def restart(d):
    """The server restarts while the logs page is open: a banner, then the page and its SSE
    come back by themselves."""
    open_page(d, "logs")
    wait(d, lambda: d.find_element(By.CSS_SELECTOR, ".state").text == "live", "the live log stream")
    ask_harness("stop-server")
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, ".banner"), "the reconnect banner")
    ask_harness("start-server")
    wait(d, lambda: not d.find_elements(By.CSS_SELECTOR, ".banner"), "the banner to go", timeout=20)
    wait(d, lambda: d.find_element(By.CSS_SELECTOR, ".state").text == "live", "the log stream back", timeout=20)
    errors(d)  # the requests refused while the server was down


def time_to_interactive(d):
    d.get("about:blank")  # a new document: the timings start at this navigation
    d.get(f"{BASE}/#/channels")
    wait(d, lambda: d.execute_script("return document.querySelector('.page[data-ready]') !== null"), "channels")
    ready = float(d.execute_script("return document.querySelector('.page').dataset.readyMs"))
    nav = d.execute_script("const n = performance.getEntriesByType('navigation')[0]; return [n.domInteractive, n.transferSize]")
    print(f"figure: channels_dom_interactive_ms {nav[0]:.1f}")
    print(f"figure: channels_ready_ms {ready:.1f}")
    sizes = d.execute_script("return performance.getEntriesByType('resource').filter(r => r.name.includes('/ui/assets/')).map(r => r.encodedBodySize)")
    print(f"figure: first_page_asset_bytes_compressed {sum(sizes)}")


def main():
    started = time.time()
    d = driver()
    try:
        login(d)
        create_channel(d)
        watch(d)
        scan(d)
        remote_library(d)
        guide(d)
        odd_names(d)
        big_library(d)
        ai_plan(d)
        invalid_setting(d)
        schedule(d)
        expired_session(d)
        time_to_interactive(d)
        every_page(d, "desktop")
        d.set_window_size(360, 800)
        every_page(d, "phone")
        restart(d)
        big_guide(d)
        d.find_element(By.XPATH, "//button[text()='Log out']").click()
        wait(d, lambda: d.find_element(By.ID, "f-token"), "the login form after logout")
    finally:
        d.quit()
    print(f"figure: browser_test_seconds {time.time() - started:.1f}")
    print("web ui: all checks passed")


main()
