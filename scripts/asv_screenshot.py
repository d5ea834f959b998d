#!/usr/bin/env python3
"""Screenshot the ``asv publish`` site in headless Chromium.

The site (``.asv/html`` by default) loads its data with XMLHttpRequest, which Chromium refuses
on file:// URLs, so the script serves the folder on 127.0.0.1 (a free port, in a thread) and
points ``chromium --headless --screenshot`` at it, one PNG per view.

The site's pages load jQuery, flot, bootstrap and three small plugins from public CDNs. On a
machine without internet access (like this project's CI machines) the page shows "Can not
determine continental origin of swallow" instead of graphs; ``--fetch-vendor`` then downloads
the same versions once with ``npm pack`` into ``--vendor-dir`` (default ``.asv/vendor``), and
whenever that folder holds them the script serves index.html with the CDN addresses replaced
by the local copies (the HTML on disk is not changed). asv's bar-chart plugin
(flot-orderbars) is always replaced by a small local one, see ORDERBARS_SHIM; with the original,
graphs whose x-axis is a string parameter come out empty. When a view sets ``x-axis=NAME``,
every value of NAME is selected, and of the other parameters as many as keep 8 lines.

A view is the part of the site's URL after ``#``: a benchmark name with optional state, e.g.
``estimators.EstimatorSize.time_forward_backward?x-axis=shape`` (plot against the ``shape``
parameter instead of the commit), ``...&y-axis-scale=log``, or
``...?x-axis=shape&p-method='paper'`` (only that value; asv writes parameter values as Python
reprs, hence the quotes). An empty view is the summary
grid. Without ``--view`` a default set covering every benchmark module is taken.

Usage::

    asv publish
    python scripts/asv_screenshot.py                      # -> .asv/screenshots/*.png
    python scripts/asv_screenshot.py --fetch-vendor       # offline machine: local JS copies
    python scripts/asv_screenshot.py --view "estimators.EstimatorProbes.time_forward?x-axis=probes"

Needs Chromium (Debian: ``apt-get install -y chromium``); ``--chromium`` or ``$CHROMIUM``
names another binary (chromium-browser, google-chrome, ...). Exit status 2 if none is found or
the site is missing, 1 if a screenshot could not be taken.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote

DEFAULT_VIEWS = [
    "",  # the summary grid
    "estimators.EstimatorSize.time_forward_backward?x-axis=shape&y-axis-scale=log",
    "estimators.EstimatorSize.peakmem_forward_backward?x-axis=shape",
    "estimators.EstimatorProbes.time_forward_backward?x-axis=probes",
    "estimators.EstimatorIterations.time_forward?x-axis=k2",
    "estimators.EstimatorFunctionals.time_forward_backward?x-axis=functional&y-axis-scale=log",
    "accuracy.AccuracySize.track_grad_cosine?x-axis=shape",
    "accuracy.AccuracyProbesIterations.track_value_relerr?x-axis=probes&y-axis-scale=log",
    "accuracy.Theorem4Ratio.track_ratio?x-axis=probes",
    "building_blocks.NewtonSchulzSqrt.track_relative_error?x-axis=iters&y-axis-scale=log",
    "building_blocks.SeriesCoefficients.time_coefficients?x-axis=penalty&y-axis-scale=log",
]

# CDN address in asv's index.html -> (npm package spec, file inside its tarball). stupidtable
# 1.0.1 is not on npm; 1.1.3 has the same $.fn.stupidtable interface.
VENDOR = {
    "https://code.jquery.com/jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js":
        ("flot@0.8.3", "jquery.flot.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js":
        ("flot@0.8.3", "jquery.flot.time.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js":
        ("flot@0.8.3", "jquery.flot.selection.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js":
        ("flot@0.8.3", "jquery.flot.categories.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js":
        ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js":
        ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js":
        ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css":
        ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}


# flot-orderbars 1.0.0, which asv loads to put the bars of several lines side by side, shifts
# the bars off the axis when the x axis is a category axis (a string parameter chosen as
# x-axis): the graph comes out empty. The script serves this replacement in its place, with
# or without the other local copies: bar series with ``bars.order`` set are shifted by
# (rank - (n - 1) / 2) * barWidth around their category, and the category axis spans every
# category slot whole (-0.5 ... last + 0.5).
ORDERBARS_URL = "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js"
ORDERBARS_SHIM = b"""(function ($) {
  function init(plot) {
    plot.hooks.processDatapoints.push(function (plot, serie, datapoints) {
      if (!serie.bars || !serie.bars.show || serie.bars.order == null) return;
      var orders = $.map(plot.getData(), function (s) {
        return (s.bars && s.bars.show && s.bars.order != null) ? s.bars.order : null;
      }).sort(function (a, b) { return a - b; });
      var dx = (orders.indexOf(serie.bars.order) - (orders.length - 1) / 2) * serie.bars.barWidth;
      var ps = datapoints.pointsize, pts = datapoints.points;
      for (var i = 0; i < pts.length; i += ps) { if (pts[i] != null) pts[i] += dx; }
      var axis = serie.xaxis;
      if (axis.options.mode == "categories" && axis.categories) {
        var last = 0;  // show every category slot whole, even where only some bars exist
        for (var label in axis.categories) last = Math.max(last, axis.categories[label]);
        axis.options.min = -0.5;
        axis.options.max = last + 0.5;
      }
    });
  }
  $.plot.plugins.push({init: init, options: {series: {bars: {order: null}}},
                       name: "orderBars-categories", version: "1"});
})(jQuery);
"""


def vendor_name(spec: str, member: str) -> str:
    """Flat file name of a vendored file, e.g. flot@0.8.3__jquery.flot.js."""
    return f"{spec}__{member.replace('/', '_')}"


def fetch_vendor(folder: Path) -> None:
    """Download the packages with ``npm pack`` and keep the files asv's pages need."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("--fetch-vendor needs npm (Debian: apt-get install -y npm)")
    folder.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, set[str]] = {}
    for spec, member in VENDOR.values():
        wanted.setdefault(spec, set()).add(member)
    with tempfile.TemporaryDirectory() as tmp:
        for spec, members in wanted.items():
            out = subprocess.run([npm, "pack", spec, "--silent", "--pack-destination", tmp],
                                 capture_output=True, text=True, check=True).stdout.split()
            tarball = Path(tmp) / out[-1]
            with tarfile.open(tarball) as tar:
                for member in members:
                    data = tar.extractfile(f"package/{member}").read()
                    (folder / vendor_name(spec, member)).write_bytes(data)
    print(f"vendored {len(VENDOR)} files into {folder}")


def local_copies(folder: Path) -> dict[str, str]:
    """CDN address -> /_vendor/ path, for the files present in ``folder``."""
    if not folder.is_dir():
        return {}
    return {url: "/_vendor/" + vendor_name(*pkg) for url, pkg in VENDOR.items()
            if (folder / vendor_name(*pkg)).is_file()}


CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"]


def find_chromium(explicit: str | None) -> str | None:
    for name in [explicit, os.environ.get("CHROMIUM")] + CANDIDATES:
        if name and (path := shutil.which(name)):
            return path
    return None


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the site; index.html with CDN addresses swapped for /_vendor/ copies."""

    vendor_dir: Path | None = None
    replacements: dict[str, str] = {}

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass

    def _send(self, body: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - name fixed by the base class
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/_vendor/orderbars-shim.js":
            return self._send(ORDERBARS_SHIM, "application/javascript")
        if path.startswith("/_vendor/") and self.vendor_dir is not None:
            file = self.vendor_dir / Path(path).name
            if file.is_file():
                ctype = "text/css" if file.suffix == ".css" else "application/javascript"
                return self._send(file.read_bytes(), ctype)
        if path in ("/", "/index.html"):
            html = (Path(self.directory) / "index.html").read_text(encoding="utf-8")
            for url, local in self.replacements.items():
                html = html.replace(url, local)
            # the local files are not byte-identical to the CDN's minified ones
            html = re.sub(r'\s(integrity|crossorigin)="[^"]*"', "", html)
            return self._send(html.encode("utf-8"), "text/html; charset=utf-8")
        return super().do_GET()


def serve(folder: Path, vendor_dir: Path | None = None) -> tuple[http.server.ThreadingHTTPServer, str]:
    replacements = local_copies(vendor_dir) if vendor_dir is not None else {}
    replacements[ORDERBARS_URL] = "/_vendor/orderbars-shim.js"
    handler_cls = type("Handler", (_Handler,), dict(vendor_dir=vendor_dir, replacements=replacements))
    handler = functools.partial(handler_cls, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/index.html"


def select_x_values(view: str, index: dict, max_lines: int = 8) -> str:
    """With ``x-axis=NAME``, select every value of NAME and, for the other parameters the view
    leaves open, as many leading values as keep the plot at ``max_lines`` lines or fewer.

    asv's graph page does the latter itself but counts the x parameter among the lines, so
    with several parameters it selects a single x value, or none of a later parameter, and
    draws an empty plot."""
    name, _, query = view.partition("?")
    match = re.search(r"(?:^|&)x-axis=([^&]+)", query)
    bench = index.get("benchmarks", {}).get(name)
    if not match or bench is None:
        return view
    names = bench.get("param_names", [])
    x_name = match.group(1)
    if x_name not in names:
        return view
    extra, count = [], 1
    for pname, values in zip(names, bench["params"]):
        if f"p-{pname}=" in query:
            continue
        if pname == x_name:
            chosen = values
        else:
            keep = max(1, min(len(values), max_lines // count))
            chosen = values[:keep]
            count *= keep
        extra += [f"p-{pname}={quote(v, safe='')}" for v in chosen]
    return view + "".join("&" + e for e in extra)


def file_name(view: str) -> str:
    if not view:
        return "summary.png"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", view).strip("_")[:150] + ".png"


def screenshot(chromium: str, url: str, out: Path, width: int, height: int, wait_ms: int,
               timeout: float) -> bool:
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
        f"--window-size={width},{height}", f"--virtual-time-budget={wait_ms}",
        f"--screenshot={out}", url,
    ]
    if out.exists():
        out.unlink()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"timed out after {timeout:.0f} s: {url}", file=sys.stderr)
        return False
    if not out.exists() or out.stat().st_size == 0:
        print(f"no screenshot for {url} (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
              file=sys.stderr)
        return False
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html-dir", default=".asv/html", type=Path,
                        help="the asv publish output (default: .asv/html)")
    parser.add_argument("--out", default=".asv/screenshots", type=Path,
                        help="folder for the PNGs (default: .asv/screenshots)")
    parser.add_argument("--view", action="append",
                        help="URL fragment after '#', repeatable; default: a set of views")
    parser.add_argument("--chromium", help="browser binary (default: $CHROMIUM or chromium)")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1100)
    parser.add_argument("--wait-ms", type=int, default=15000,
                        help="virtual time the page gets to load its JSON and draw")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per screenshot")
    parser.add_argument("--vendor-dir", default=".asv/vendor", type=Path,
                        help="local copies of the site's CDN scripts, used when present "
                             "(default: .asv/vendor)")
    parser.add_argument("--fetch-vendor", action="store_true",
                        help="download those copies with npm pack first (offline machines)")
    args = parser.parse_args(argv)

    if args.fetch_vendor:
        fetch_vendor(args.vendor_dir)

    if not (args.html_dir / "index.html").is_file():
        print(f"{args.html_dir}/index.html not found: run `asv publish` first", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("no Chromium found (Debian: apt-get install -y chromium; or pass --chromium)",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    vendored = local_copies(args.vendor_dir)
    if vendored:
        print(f"serving {len(vendored)} CDN files from {args.vendor_dir}", file=sys.stderr)
    server, base = serve(args.html_dir.resolve(), args.vendor_dir.resolve())
    index_file = args.html_dir / "index.json"
    index = json.loads(index_file.read_text()) if index_file.is_file() else {}
    failed = 0
    try:
        for view in args.view or DEFAULT_VIEWS:
            url = base + ("#" + select_x_values(view, index) if view else "")
            out = (args.out / file_name(view)).resolve()
            if screenshot(chromium, url, out, args.width, args.height, args.wait_ms, args.timeout):
                print(out)
            else:
                failed += 1
    finally:
        server.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
