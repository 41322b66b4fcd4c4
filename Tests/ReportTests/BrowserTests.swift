import Analysis
import Foundation
import XCTest
@testable import Report

/// The report as people see it: `index.html` loaded in headless Chromium (Debian's `chromium`, which
/// `make setup` installs) at laptop widths. Each page is a copy of a report folder with one script put
/// first in its `<head>`; the script records script errors, failed loads and console errors, and on
/// `load` measures the page and writes a verdict into the DOM, which `--dump-dom` prints. Chromium's
/// own console log (stderr) is read too: the report has no JavaScript, so any console line is a fault.
/// Skips when chromium is not installed; fails when it is and a check fails.
final class BrowserTests: XCTestCase {
    /// Common laptop viewports (CSS px); the page keeps its vertical scrollbar, as on Linux and Windows.
    static let widths = [1366, 1280]
    static let root = ReportTests.root
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "gpt2lab-browser-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func chromium() throws -> String {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(folder)/chromium"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw XCTSkip("chromium is not installed (Debian package `chromium`, which `make setup` installs): report not checked in a browser")
    }

    /// What the page script measured (see `checkScript`).
    struct Verdict: Decodable {
        var innerWidth, clientWidth, scrollWidth: Double
        var images, rows, cells: Int
        var minFontPx: Double?
        var problems: [String]
    }

    /// Copies a report folder into the temporary folder (the original is never touched) and returns the copy.
    func copyOfReport(_ folder: String, as name: String) throws -> String {
        let copy = dir + "/" + name
        try FileManager.default.copyItem(atPath: folder, toPath: copy)
        return copy
    }

    /// Loads `folder/index.html`, with the check script first in its head, at `width` × 768 CSS px.
    /// Returns the verdict and Chromium's console lines. Chromium is killed after 60 s.
    func load(_ folder: String, width: Int, file: StaticString = #filePath, line: UInt = #line) throws -> (Verdict, console: [String]) {
        let browser = try chromium()
        let html = try String(contentsOfFile: folder + "/index.html", encoding: .utf8)
        let head = try XCTUnwrap(html.range(of: "<head>"), "no <head> in \(folder)/index.html", file: file, line: line)
        let page = folder + "/index.checked-\(width).html"   // same folder: the images resolve as they do for index.html
        var checked = html
        checked.replaceSubrange(head, with: "<head>\n<script>\(Self.checkScript)</script>")
        try checked.write(toFile: page, atomically: true, encoding: .utf8)

        let out = dir + "/dom-\(width).html", err = dir + "/stderr-\(width).txt"
        for path in [out, err] {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil), path, file: file, line: line)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")   // -k: SIGKILL if SIGTERM is not enough
        p.arguments = ["-k", "5", "60", browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                       "--user-data-dir=\(dir)/profile-\(width)", "--no-first-run", "--disable-extensions",
                       "--disable-background-networking", "--disable-component-update", "--disable-sync",
                       "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
                       "--window-size=\(width),768", "--virtual-time-budget=10000", "--dump-dom",
                       URL(fileURLWithPath: page).absoluteString]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try p.run()
        p.waitUntilExit()
        let log = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        let dom = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let status = p.terminationStatus
        if status == 124 || status == 137 {
            XCTFail("chromium did not finish within 60 s (killed)", file: file, line: line)
        } else {
            XCTAssertEqual(status, 0, "chromium failed: \(log.suffix(2000))", file: file, line: line)
        }
        let json = try XCTUnwrap(dom.components(separatedBy: "id=\"gpt2lab-browser-verdict\">").dropFirst().first?
                                    .components(separatedBy: "</pre>").first?.removingPercentEncoding,
                                 "no verdict in the page (the check script did not run); stderr: \(log.suffix(2000))",
                                 file: file, line: line)
        let console = log.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") }
        return (try JSONDecoder().decode(Verdict.self, from: Data(json.utf8)), console)
    }

    /// The checks a report must pass at every width: at least `runs` table rows and `images` images.
    func assertReadable(_ folder: String, runs: Int, images: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        for width in Self.widths {
            let (v, console) = try load(folder, width: width, file: file, line: line)
            XCTAssertEqual(console, [], "console messages at \(width) px", file: file, line: line)
            XCTAssertEqual(v.problems, [], "at \(width) px", file: file, line: line)
            XCTAssertEqual(v.innerWidth, Double(width), "viewport", file: file, line: line)
            XCTAssertLessThanOrEqual(v.scrollWidth, v.clientWidth, "no sideways scrolling at \(width) px", file: file, line: line)
            XCTAssertGreaterThanOrEqual(v.images, images, file: file, line: line)
            XCTAssertGreaterThanOrEqual(v.rows, runs, "table rows (the results table, plus the benchmark tables when present)", file: file, line: line)
            XCTAssertGreaterThanOrEqual(v.cells, (runs + 1) * 9, file: file, line: line)
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(v.minFontPx, file: file, line: line), 11, file: file, line: line)
        }
    }

    /// The demo (what `make demo` renders and the README shows), rendered by this test run.
    func testDemoReadsWellAtLaptopWidths() throws {
        _ = try chromium()
        let demo = try RenderedDemo.folder.get()
        // Five charts, plus the per-token section's three for `stacked` (examples/interventions.toml).
        try assertReadable(try copyOfReport(demo, as: "demo"), runs: 5, images: 8)
        for image in ["per-token-1-stacked-position.png", "per-token-1-stacked-delta.png", "per-token-1-stacked-calibration.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: demo + "/" + image), "the demo shows \(image)")
        }
    }

    /// A report rendered with the built-in template from the demo manifest on a short slice of the
    /// test set, through the test-suite options (completions on, few resamples).
    func testFreshReportReadsWellAtLaptopWidths() throws {
        _ = try chromium()
        let examples = Self.root + "/examples"
        let manifest = try String(contentsOfFile: examples + "/interventions.toml", encoding: .utf8)
            .replacingOccurrences(of: "test_set = \"", with: "test_set = \"\(examples)/")
            .replacingOccurrences(of: "checkpoint = \"", with: "checkpoint = \"\(examples)/")
            .replacingOccurrences(of: " = \"evals/", with: " = \"\(examples)/evals/")
            .replacingOccurrences(of: "baseline = \"baseline\"\n", with: "baseline = \"baseline\"\nmax_tokens = 2049\n")
        let path = dir + "/demo.toml"
        try manifest.write(toFile: path, atomically: true, encoding: .utf8)
        let o = testReportOptions(cache: dir + "/cache", bootstrap: 200, completions: true)
        let (r, extras) = try compareRuns(try loadManifest(path: path), options: o) { _ in }
        XCTAssertEqual(r.runs.count, 5)
        XCTAssertEqual(r.perToken?.map(\.run), ["stacked"], "the demo manifest's per_token")
        try writeReport(r, extras: extras, to: dir + "/fresh", template: try loadReportTemplate().text)
        try assertReadable(dir + "/fresh", runs: 5, images: 8)
    }

    /// The checks can fail: a copy of the demo with a missing image, a script error, 9 px numbers and
    /// completions that no longer wrap.
    func testChecksCatchABrokenPage() throws {
        _ = try chromium()
        let copy = try copyOfReport(try RenderedDemo.folder.get(), as: "broken")
        try FileManager.default.removeItem(atPath: copy + "/loss.png")
        let html = try String(contentsOfFile: copy + "/index.html", encoding: .utf8)
            .replacingOccurrences(of: "</style>", with: "td.num { font-size: 9px; } td.completion { white-space: nowrap; max-width: none; }</style>")
            .replacingOccurrences(of: "</body>", with: "<script>undefinedFunction();</script></body>")
        try html.write(toFile: copy + "/index.html", atomically: true, encoding: .utf8)
        let (v, console) = try load(copy, width: 1366)
        XCTAssertTrue(console.contains { $0.contains("undefinedFunction is not defined") }, "\(console)")
        for expected in ["script error: Uncaught ReferenceError", "image not loaded: loss.png", "failed to load <img",
                         "the page scrolls sideways", "the table spans", "text under 11 px (9 px)"] {
            XCTAssertTrue(v.problems.contains { $0.contains(expected) }, "'\(expected)' in \(v.problems)")
        }
        XCTAssertGreaterThan(v.scrollWidth, v.clientWidth)
    }

    /// Runs in the page before anything else. Readable means: the page does not scroll sideways, the
    /// table lies inside the page, no cell's content is wider than the cell or its text outside it, and
    /// all text in the table is at least 11 px. Every `<img>` must be `complete` with `naturalWidth > 0`.
    static let checkScript = #"""
    (function () {
      var problems = [];
      function note(s) { problems.push(String(s)); }
      function each(list, f) { Array.prototype.forEach.call(list, f); }
      function label(el) {
        return '<' + el.tagName.toLowerCase() + (el.className ? ' class="' + el.className + '"' : '') + '> "' +
          el.textContent.trim().slice(0, 40) + '"';
      }
      addEventListener('error', function (e) {
        var t = e.target;
        if (t && t !== window && t.tagName) note('failed to load ' + label(t) + ' ' + (t.getAttribute('src') || t.getAttribute('href') || ''));
        else note('script error: ' + e.message);
      }, true);
      addEventListener('unhandledrejection', function (e) { note('unhandled rejection: ' + e.reason); });
      ['error', 'warn'].forEach(function (level) {
        var original = console[level];
        console[level] = function () {
          note('console.' + level + ': ' + Array.prototype.join.call(arguments, ' '));
          return original.apply(console, arguments);
        };
      });
      addEventListener('load', function () {
        var doc = document.documentElement, view = doc.clientWidth;
        var r = { innerWidth: innerWidth, clientWidth: view, scrollWidth: doc.scrollWidth, images: document.images.length,
                  rows: document.querySelectorAll('table tbody tr').length, cells: 0, minFontPx: null, problems: problems };
        if (doc.scrollWidth > view) note('the page scrolls sideways: scrollWidth ' + doc.scrollWidth + ' > ' + view + ' px');
        each(document.images, function (img) {
          if (!(img.complete && img.naturalWidth > 0)) note('image not loaded: ' + img.getAttribute('src'));
          else if (img.getBoundingClientRect().right > view + 0.5) note('image wider than the page: ' + img.getAttribute('src'));
        });
        var tables = document.querySelectorAll('table');
        if (tables.length === 0) note('no table on the page');
        each(tables, function (table) {
          var t = table.getBoundingClientRect();
          if (t.left < -0.5 || t.right > view + 0.5) note('the table spans ' + t.left + '..' + t.right + ' px of a ' + view + ' px page');
          each(table.querySelectorAll('th, td'), function (cell) {
            r.cells++;
            var box = cell.getBoundingClientRect();
            if (cell.scrollWidth > cell.clientWidth + 1)
              note('content wider than its cell (' + cell.scrollWidth + ' > ' + cell.clientWidth + ' px): ' + label(cell));
            var range = document.createRange();
            range.selectNodeContents(cell);
            Array.prototype.some.call(range.getClientRects(), function (q) {
              var out = q.width > 0 && (q.left < box.left - 1 || q.right > box.right + 1 || q.top < box.top - 1 || q.bottom > box.bottom + 1);
              if (out) note('text outside its cell: ' + label(cell));
              return out;
            });
            [cell].concat(Array.prototype.slice.call(cell.querySelectorAll('*'))).forEach(function (el) {
              var hasText = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim() !== ''; });
              if (!hasText) return;
              var px = parseFloat(getComputedStyle(el).fontSize);
              if (r.minFontPx === null || px < r.minFontPx) r.minFontPx = px;
              if (px < 11) note('text under 11 px (' + px + ' px): ' + label(el));
            });
          });
        });
        var verdict = document.createElement('pre');
        verdict.id = 'gpt2lab-browser-verdict';
        verdict.textContent = encodeURIComponent(JSON.stringify(r));
        document.body.appendChild(verdict);
      });
    })();
    """#
}
