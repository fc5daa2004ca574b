#!/usr/bin/env python3
"""The widget in headless Chromium: the time from the click on the host's cancel link to the
first offer on screen, as an end user sees it on a fresh page view each time.

Drives Debian's chromedriver over W3C WebDriver (plain HTTP and JSON, no client library). The
host page is served here, on its own origin (http://localhost:PORT), with a strict CSP, and
loads the widget from the service with Subresource Integrity. Each run: load the page, click
the cancel link, skip the reason as soon as it shows, and stop the clock when the first offer
is painted (the animation frame after it is in the DOM). In-page clocks
(performance.now()), so WebDriver's own round trips are not counted.

Usage: widget.py --service URL --token TOKEN --integrity SRI [--runs 40]
Prints one JSON line: {"runs", "dialog_p50_ms", "dialog_p95_ms", "offer_p50_ms",
"offer_p95_ms", "offer_max_ms", "first_view_offer_ms", "gzip_bytes"}.
"""
import argparse
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HOST_JS = """
const config = JSON.parse(document.getElementById('saveloops-config').textContent);
window.saveloopsFlow = Saveloops.mount(config);
"""

# Clicks the cancel link and answers, through WebDriver's async-script callback, the in-page
# times (ms after the click) of the dialog and of the first offer on screen.
MEASURE = """
const done = arguments[arguments.length - 1];
const painted = (then) => requestAnimationFrame(() => then(performance.now()));
const times = {};
let clicked;
const find = (css) => {
  const host = document.querySelector('saveloops-flow');
  return host && host.shadowRoot && host.shadowRoot.querySelector(css);
};
const watch = new MutationObserver(check);
function check() {
  if (!times.dialog && find('[data-saveloops=skip]')) {
    times.dialog = -1;
    painted((t) => { times.dialog = t - clicked; });
    const host = document.querySelector('saveloops-flow');
    watch.observe(host.shadowRoot, { childList: true, subtree: true });
    find('[data-saveloops=skip]').click();
  }
  if (times.dialog && !times.offer && find('[data-saveloops=offer]')) {
    times.offer = -1;
    watch.disconnect();
    painted((t) => { times.offer = t - clicked; setTimeout(() => done(times), 0); });
  }
}
watch.observe(document.body, { childList: true });
setTimeout(() => done({ error: 'no offer within 5 s', times }), 5000);
clicked = performance.now();
document.getElementById('cancel').click();
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webdriver(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}").get("value")


def host_server(service, token, integrity):
    config = json.dumps({"apiBase": service, "session": token, "targetId": "cancel-btn",
                         "selector": "#cancel"})
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Account</title>
<script id="saveloops-config" type="application/json">{config}</script>
<script src="{service}/embed/v1/saveloops.js" integrity="{integrity}" crossorigin="anonymous"></script>
<script src="/host.js"></script></head>
<body><main><h1>Account</h1><a id="cancel" href="/cancelled">Cancel subscription</a></main></body></html>"""
    csp = (f"default-src 'none'; script-src 'self' {service}; connect-src {service}; "
           "style-src 'self'; base-uri 'none'")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body, kind = {"/": (page, "text/html"), "/host.js": (HOST_JS, "text/javascript")}.get(
                self.path, ("cancelled", "text/plain"))
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind + "; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{server.server_address[1]}"


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--service", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--integrity", required=True)
    parser.add_argument("--key", required=True, help="the organization's key, to allow the origin")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    server, origin = host_server(args.service, args.token, args.integrity)
    req = urllib.request.Request(
        args.service + "/api/v1/settings", method="PATCH",
        data=json.dumps({"allowed_origins": [origin]}).encode(),
        headers={"Content-Type": "application/json", "X-Knot-Key": args.key})
    urllib.request.urlopen(req, timeout=10).read()
    with urllib.request.urlopen(urllib.request.Request(
            args.service + "/embed/v1/saveloops.js", headers={"Accept-Encoding": "gzip"})) as r:
        gzip_bytes = len(r.read())

    port = free_port()
    driver = subprocess.Popen([os.environ.get("CHROMEDRIVER", "chromedriver"), f"--port={port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                webdriver(base, "GET", "/status")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        session = webdriver(base, "POST", "/session", {"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {
                "binary": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"]}}}})["sessionId"]
        path = f"/session/{session}"
        webdriver(base, "POST", path + "/timeouts", {"script": 10000})
        dialogs, offers, errors = [], [], []
        for _ in range(args.runs):
            webdriver(base, "POST", path + "/url", {"url": origin + "/"})
            times = webdriver(base, "POST", path + "/execute/async", {"script": MEASURE, "args": []})
            if "error" in times:
                errors.append(times)
                continue
            dialogs.append(times["dialog"])
            offers.append(times["offer"])
        webdriver(base, "DELETE", path)
    finally:
        os.killpg(driver.pid, 9)
        server.shutdown()
    if not offers:
        print(json.dumps({"error": errors[:3]}))
        sys.exit(1)
    print(json.dumps({
        "runs": len(offers), "errors": len(errors),
        "dialog_p50_ms": round(percentile(dialogs, 50), 1),
        "dialog_p95_ms": round(percentile(dialogs, 95), 1),
        "offer_p50_ms": round(percentile(offers, 50), 1),
        "offer_p95_ms": round(percentile(offers, 95), 1),
        "offer_max_ms": round(max(offers), 1),
        "first_view_offer_ms": round(offers[0], 1),
        "gzip_bytes": gzip_bytes,
    }))


if __name__ == "__main__":
    main()
