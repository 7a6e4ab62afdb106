//! report.html in a real browser: headless Chromium opens the sample
//! report under filter addresses (search, status, severity, combined, none
//! matching, a control's anchor, scripts off), each in a frame of one page,
//! so that one browser run answers every case; what each frame shows is
//! compared with what report.json says it should show. In CI (`CI` set) a
//! missing chromium fails the test; scripts/test.sh installs it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{self, posture, stderr};

/// The browser, when installed; in CI its absence fails the test.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|path| path.is_file()))
    });
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "this test needs chromium; scripts/test.sh installs it");
        eprintln!("skipping: chromium is not installed (scripts/test.sh installs it)");
    }
    found
}

/// The cases: a name, the address after `report.html`, and whether the
/// frame runs scripts.
const CASES: &[(&str, &str, bool)] = &[
    ("all", "", true),
    ("status", "?status=fail", true),
    ("severity", "?severity=HIGH", true),
    ("search", "?q=root", true),
    ("combined", "?q=ssh&status=fail,error&severity=high,medium", true),
    ("nothing", "?q=no-such-control-anywhere", true),
    ("anchor", "?status=fail#cis-debian-linux-12:1.1.1.1", true),
    ("no-script", "?status=fail", false),
    ("typed", "", true),
];

/// The page of frames, and the script that reports, once every frame has
/// loaded, what each one renders: the bar, the count, the controls and
/// sections with a box, each control's finding rows in page order (status,
/// rendered or folded away), and where the anchored control landed.
const HARNESS_SCRIPT: &str = r#"
window.addEventListener('load', function () {
  // checkVisibility: false under display:none and in a closed <details>,
  // whose content keeps its boxes but is not painted.
  var rendered = function (el) { return !!el && el.checkVisibility(); };
  var results = {};
  // What a reader does in the "typed" frame: types a search, unticks "pass".
  var typed = document.querySelector('iframe[data-case="typed"]').contentDocument;
  typed.getElementById('search').value = 'sshd';
  typed.getElementById('search').dispatchEvent(new Event('input'));
  typed.querySelector('.status-filter[value="pass"]').click();
  document.querySelectorAll('iframe').forEach(function (frame) {
    var doc = frame.contentDocument;
    var bar = doc.getElementById('toolbar');
    var controls = {};
    doc.querySelectorAll('details.control').forEach(function (d) {
      controls[d.id] = {
        shown: rendered(d),
        open: d.open,
        top: d.getBoundingClientRect().top,
        rows: Array.prototype.map.call(d.querySelectorAll('tr.finding'), function (tr) {
          var status = Array.prototype.filter.call(tr.classList, function (c) { return c !== 'finding' && c !== 'match'; });
          return [status.join(' '), rendered(tr), tr.classList.contains('match')];
        })
      };
    });
    results[frame.getAttribute('data-case')] = {
      search: frame.contentWindow.location.search,
      bar: rendered(bar),
      bar_bottom: bar.getBoundingClientRect().bottom,
      count: rendered(bar) ? doc.getElementById('shown').textContent : '',
      nothing: rendered(doc.querySelector('.controls .nothing')),
      sections: Array.prototype.filter.call(doc.querySelectorAll('.control-section'), rendered).map(function (s) { return s.id; }),
      controls: controls
    };
  });
  document.getElementById('results').textContent = JSON.stringify(results);
});
"#;

fn harness() -> String {
    let frames: String = CASES
        .iter()
        .map(|(name, address, scripts)| {
            let sandbox = if *scripts { "" } else { r#" sandbox="allow-same-origin""# };
            format!(
                "<iframe data-case=\"{name}\"{sandbox} style=\"width:1400px;height:900px\" src=\"r/report.html{}\"></iframe>\n",
                address.replace('&', "&amp;")
            )
        })
        .collect();
    format!("<!DOCTYPE html>\n<html><body>\n{frames}<pre id=\"results\"></pre>\n<script>{HARNESS_SCRIPT}</script>\n</body></html>\n")
}

/// What the browser reported, by case.
fn browse(browser: &Path, dir: &Path) -> BTreeMap<String, Value> {
    std::fs::write(dir.join("harness.html"), harness()).expect("write the page of frames");
    let profile = tempfile::tempdir().expect("profile dir");
    // As root: no sandbox; no background networking, which waits on a closed
    // network; file access from files, so that the page can read its frames.
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", dir.join("harness.html").display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"results\">").map(|at| at + "<pre id=\"results\">".len());
    let text = start.and_then(|start| dom[start..].find("</pre>").map(|end| &dom[start..start + end]));
    let text = text.unwrap_or_else(|| panic!("no results in the page:\n{dom}"));
    let json = text.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|err| panic!("{err}: {json}"))
}

/// One control of report.json, as the filters see it.
struct Control {
    full_id: String,
    section: String,
    status: String,
    severity: String,
    /// The control's own text a search reads: id and title.
    text: String,
    /// Each finding's text a search reads: target, resource, message.
    findings: Vec<String>,
}

fn controls(report: &Value) -> Vec<Control> {
    let mut all = Vec::new();
    for benchmark in report["benchmarks"].as_array().expect("benchmarks") {
        let benchmark_id = benchmark["id"].as_str().expect("id");
        for section in benchmark["sections"].as_array().expect("sections") {
            for control in section["controls"].as_array().expect("controls") {
                let text = |key: &str| control[key].as_str().unwrap_or_default().to_owned();
                all.push(Control {
                    full_id: text("full_id"),
                    section: format!("{benchmark_id}-s{}", section["id"].as_str().expect("section id")),
                    status: text("status"),
                    severity: control["severity"].as_str().unwrap_or("none").to_owned(),
                    text: format!("{} {}", text("id"), text("title")).to_lowercase(),
                    findings: control["findings"]
                        .as_array()
                        .expect("findings")
                        .iter()
                        .map(|f| {
                            ["target", "resource", "message"]
                                .map(|key| f[key].as_str().unwrap_or_default())
                                .join(" ")
                                .to_lowercase()
                        })
                        .collect(),
                });
            }
        }
    }
    all
}

/// Whether a search for `query` (every word, anywhere) keeps `control`: in
/// its id or title, or in one finding together with them.
fn searched(control: &Control, query: &str) -> bool {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let all_in = |text: &str| words.iter().all(|word| text.contains(word.as_str()));
    all_in(&control.text) || control.findings.iter().any(|finding| all_in(&format!("{} {finding}", control.text)))
}

/// Which controls a filter keeps.
type Keep = Box<dyn Fn(&Control) -> bool>;

/// The ids of the controls `keep` keeps, and of their sections.
fn expected(all: &[Control], keep: impl Fn(&Control) -> bool) -> (BTreeSet<String>, BTreeSet<String>) {
    let kept: Vec<&Control> = all.iter().filter(|c| keep(c)).collect();
    (kept.iter().map(|c| c.full_id.clone()).collect(), kept.iter().map(|c| c.section.clone()).collect())
}

fn shown_controls(case: &Value) -> BTreeSet<String> {
    let controls = case["controls"].as_object().expect("controls");
    controls.iter().filter(|(_, c)| c["shown"] == true).map(|(id, _)| id.clone()).collect()
}

fn shown_sections(case: &Value) -> BTreeSet<String> {
    case["sections"].as_array().expect("sections").iter().map(|s| s.as_str().expect("id").to_owned()).collect()
}

/// Fails, naming what is shown too much and what is missing, unless `shown` is `wanted`.
fn assert_same(case: &str, what: &str, shown: &BTreeSet<String>, wanted: &BTreeSet<String>) {
    let extra: Vec<_> = shown.difference(wanted).collect();
    let missing: Vec<_> = wanted.difference(shown).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{case}: {what}: {} shown that should not be (first: {:?}), {} missing (first: {:?})",
        extra.len(),
        &extra[..extra.len().min(5)],
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

#[test]
fn the_filters_search_and_anchors_of_report_html_work_in_chromium() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let bundle = support::sample_bundle();
    let out = posture(
        dir.path(),
        &["audit", "--facts", bundle.to_str().expect("path"), "--out", "r", "--quiet", "--format", "html,json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all = controls(&support::read_json(&dir.path().join("r/report.json")));
    let results = browse(&browser, dir.path());
    let total = all.len();
    let every_section: BTreeSet<String> = all.iter().map(|c| c.section.clone()).collect();

    let cases: [(&str, Keep); 7] = [
        ("all", Box::new(|_| true)),
        ("status", Box::new(|c| c.status == "fail")),
        ("severity", Box::new(|c| c.severity == "high")),
        ("search", Box::new(|c| searched(c, "root"))),
        (
            "combined",
            Box::new(|c| {
                searched(c, "ssh")
                    && ["fail", "error"].contains(&c.status.as_str())
                    && ["high", "medium"].contains(&c.severity.as_str())
            }),
        ),
        ("nothing", Box::new(|_| false)),
        ("typed", Box::new(|c| searched(c, "sshd") && c.status != "pass")),
    ];
    let mut kept_by_case = BTreeMap::new();
    for (name, keep) in &cases {
        let case = &results[*name];
        let (controls, sections) = expected(&all, keep);
        assert_same(name, "controls", &shown_controls(case), &controls);
        assert_same(name, "sections (none left empty)", &shown_sections(case), &sections);
        assert_eq!(case["bar"], true, "{name}: the filter bar is shown");
        assert_eq!(case["count"], format!("Showing {} of {total} controls", controls.len()), "{name}");
        assert_eq!(case["nothing"], controls.is_empty(), "{name}: 'no control matches' shown when nothing is");
        kept_by_case.insert(*name, controls);
    }
    // Each filter narrows what the others keep, so that none can be broken unseen.
    assert!(kept_by_case["status"].len() < total && kept_by_case["severity"].len() < kept_by_case["status"].len());
    let combined = &kept_by_case["combined"];
    assert!(!combined.is_empty(), "the combined filter keeps something");
    for (alone, keep) in [
        ("search", Box::new(|c: &Control| searched(c, "ssh")) as Keep),
        ("status", Box::new(|c: &Control| ["fail", "error"].contains(&c.status.as_str()))),
        ("severity", Box::new(|c: &Control| ["high", "medium"].contains(&c.severity.as_str()))),
    ] {
        assert!(expected(&all, keep).0.len() > combined.len(), "{alone} alone keeps more than the combination");
    }
    // The search reads resources and messages, not only titles.
    assert!(all.iter().any(|c| searched(c, "root") && !c.text.contains("root")), "a control found by its findings");
    assert!(shown_sections(&results["status"]).len() < every_section.len(), "a section with no failing control hidden");

    // The filters are written back into the address, in their own words.
    assert_eq!(results["severity"]["search"], "?severity=high");
    assert_eq!(results["combined"]["search"], "?q=ssh&status=fail,error&severity=high,medium");
    assert_eq!(results["typed"]["search"], "?q=sshd&status=fail,error,not_applicable,manual,waived");

    // A finding a search matched is highlighted and shown, unfolded if it was folded.
    let matched: Vec<&Value> = results["search"]["controls"]
        .as_object()
        .expect("controls")
        .values()
        .flat_map(|c| c["rows"].as_array().expect("rows"))
        .filter(|row| row[2] == true)
        .collect();
    assert!(matched.iter().any(|row| row[0] == "pass"), "a passing finding matched: {matched:?}");
    assert!(matched.iter().all(|row| row[1] == true), "every matched finding shown: {matched:?}");

    // A control named by the anchor is shown though the filter would hide
    // it, opened, and below the sticky bar, not under it.
    let anchor = &results["anchor"];
    let target = &anchor["controls"]["cis-debian-linux-12:1.1.1.1"];
    assert_eq!(target["shown"], true, "{target}");
    assert_eq!(target["open"], true, "{target}");
    let (top, bar) = (target["top"].as_f64().expect("top"), anchor["bar_bottom"].as_f64().expect("bar"));
    assert!(bar > 0.0 && top >= bar && top <= bar + 40.0, "control at {top}, the bar ends at {bar}");

    // Without scripts: no bar, every control shown, whatever the address says.
    let plain = &results["no-script"];
    assert_eq!(plain["bar"], false);
    assert_eq!(shown_controls(plain).len(), total);

    // In every control, failing and erroring findings come first and are
    // shown; passing ones come after them, folded away when there are failing ones.
    let mut folded = 0;
    for (id, control) in results["all"]["controls"].as_object().expect("controls") {
        let rows: Vec<(&str, bool)> = control["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| (row[0].as_str().expect("status"), row[1] == true))
            .collect();
        let first = |status: &str| ["fail", "error", "waived"].contains(&status);
        let leading = rows.iter().take_while(|(status, _)| first(status)).count();
        assert!(rows[leading..].iter().all(|(status, _)| !first(status)), "{id}: failing findings first: {rows:?}");
        if control["open"] != true {
            continue;
        }
        assert!(rows[..leading].iter().all(|(_, shown)| *shown), "{id}: failing findings shown: {rows:?}");
        if leading > 0 {
            assert!(rows[leading..].iter().all(|(_, shown)| !shown), "{id}: the others folded: {rows:?}");
            folded += rows.len() - leading;
        }
    }
    assert!(folded > 0, "some passing findings are folded under failing ones");
}

/// A check whose texts and findings carry HTML, links and images of an attacker's.
const HOSTILE_CHECK: &str = r#"//! id = "linux_test_hostile"
//! title = "Hostile <b>title</b>"
//! severity = "high"
//! resource_type = "sysctl"
//! facts = ["host.sysctl"]
//! rationale = '''
//! Set `kernel.<x>` to 0:
//!
//! - first *item* <script>alert(1)</script>
//! - [a link](javascript:alert(1)) and [the CIS site](https://www.cisecurity.org/)
//!
//! <img src=x onerror=alert(1)> ![tracker](http://tracker.example/p.png)
//! '''
//! remediation = '''
//! ```sh
//! </code></pre><script>alert(1)</script>
//! ```
//!
//! <div onclick="alert(1)">raw block</div>
//! '''

fn check(facts) {
    [fail("<script>alert(2)</script>", "<img src=x onerror=alert(3)>")]
}
"#;

#[test]
fn markdown_of_check_texts_is_rendered_with_raw_html_links_and_images_defused() {
    let dir = support::scratch(&[
        ("hostile.toml", &support::linux_benchmark("hostile", "Hostile", &[("Hostile texts", "linux_test_hostile")])),
        ("checks/linux/test/linux_test_hostile.rhai", HOSTILE_CHECK),
    ]);
    let bundle = support::sample_bundle();
    let out = posture(
        dir.path(),
        &[
            "audit",
            "--content",
            ".",
            "--benchmark",
            "hostile",
            "--facts",
            bundle.to_str().expect("path"),
            "--out",
            "o",
            "--format",
            "html",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let html = std::fs::read_to_string(dir.path().join("o/report.html")).expect("report.html");
    // The report's own script is the only one; nothing loads, nothing runs on a click.
    assert_eq!(html.matches("<script").count(), 1, "one <script>, the report's own");
    for refused in ["<img", "<b>", "<div onclick", "javascript:", "tracker.example"] {
        assert!(!html.contains(refused), "{refused} is in report.html");
    }
    // Markdown is rendered: code spans, list items, emphasis, a web link, a code block.
    for rendered in [
        "<code>kernel.&lt;x&gt;</code>",
        "<li>first <em>item</em> &lt;script&gt;alert(1)&lt;/script&gt;</li>",
        "<a href=\"https://www.cisecurity.org/\">the CIS site</a>",
        "&lt;img src=x onerror=alert(1)&gt; tracker",
        "<pre><code class=\"language-sh\">&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;\n</code></pre>",
        "&lt;div onclick=\"alert(1)\"&gt;raw block&lt;/div&gt;",
    ] {
        assert!(html.contains(rendered), "{rendered} is not in report.html");
    }
    // Names and messages stay text, as every value of the report does.
    assert!(html.contains("&lt;script&gt;alert(2)&lt;&#x2F;script&gt;"), "the resource, escaped");
    assert!(html.contains("&lt;img src=x onerror=alert(3)&gt;"), "the message, escaped");
    assert!(html.contains("Hostile &lt;b&gt;title&lt;&#x2F;b&gt;"), "the title, escaped");
}
