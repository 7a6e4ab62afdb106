//! Markdown (check rationales and remediations) as HTML for report.html,
//! safe whatever the text says: check files can come from any `--content`
//! folder or evidence pack, so raw HTML is shown as text, links keep their
//! href only when it is http(s), images become their alt text (a report
//! loads nothing), and headings become paragraphs (a check's text does not
//! outrank the report's own headings). CommonMark only: no tables, no
//! footnotes, no extensions.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// `text` (CommonMark) as HTML: paragraphs, lists, code spans and blocks,
/// emphasis and http(s) links; everything else as escaped text.
pub fn render(text: &str) -> String {
    // Which opened links and images were kept, so that each end event
    // follows its start.
    let mut kept_links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(text, Options::empty()).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            let web = is_web_address(&dest_url);
            kept_links.push(web);
            web.then_some(Event::Start(Tag::Link { link_type, dest_url, title, id }))
        }
        Event::End(TagEnd::Link) => kept_links.pop().unwrap_or(false).then_some(Event::End(TagEnd::Link)),
        // The alt text, which comes between the two, stays as text.
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Heading { .. }) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::Heading(_)) => Some(Event::End(TagEnd::Paragraph)),
        other => Some(other),
    });
    let mut html = String::with_capacity(text.len() + text.len() / 4);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// Whether a link's target is a web address (no `javascript:`, `data:`,
/// `file:` or relative link into the reader's machine).
fn is_web_address(dest: &CowStr<'_>) -> bool {
    let lower = dest.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// The Tera filter `markdown_html`: [`render`] of a string (null as
/// nothing). Its output is HTML: templates mark it `| safe`.
pub fn filter(value: &tera::Value, _: &std::collections::HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    match value {
        tera::Value::String(text) => Ok(tera::Value::String(render(text))),
        tera::Value::Null => Ok(tera::Value::String(String::new())),
        other => Err(tera::Error::msg(format!("Filter `markdown_html` takes text, not {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn code_spans_lists_and_code_blocks_are_rendered() {
        let html = render(
            "Set `PermitRootLogin no`:\n\n- in `/etc/ssh/sshd_config`\n- then *reload*\n\n```sh\nsystemctl reload ssh\n```\n",
        );
        assert_eq!(
            html,
            "<p>Set <code>PermitRootLogin no</code>:</p>\n<ul>\n<li>in <code>/etc/ssh/sshd_config</code></li>\n<li>then \
             <em>reload</em></li>\n</ul>\n<pre><code class=\"language-sh\">systemctl reload ssh\n</code></pre>\n"
        );
    }

    #[test]
    fn a_code_span_across_lines_is_one_span() {
        assert_eq!(
            render("`aws s3api get-bucket-policy\n--bucket <name>`."),
            "<p><code>aws s3api get-bucket-policy --bucket &lt;name&gt;</code>.</p>\n"
        );
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render(
            "<script>alert(1)</script>\n\nGive the group a <new-gid> <img src=x onerror=alert(1)>.\n\n<div \
             onclick=\"x\">\n\nblock</div>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(!html.contains("<new-gid"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        assert!(html.contains("a &lt;new-gid&gt; &lt;img src=x onerror=alert(1)&gt;."), "{html}");
    }

    #[test]
    fn only_web_links_are_links_and_images_load_nothing() {
        let html = render(
            "[CIS](https://www.cisecurity.org/) [x](javascript:alert(1)) [y](JavaScript:alert(1)) \
             [z](data:text/html,hi) [f](file:///etc/passwd) <https://example.com/a?b=\"c\"> ![alt text](http://example.com/t.png)",
        );
        assert!(html.contains("<a href=\"https://www.cisecurity.org/\">CIS</a>"), "{html}");
        assert!(html.contains("<a href=\"https://example.com/a?b=%22c%22\">"), "{html}");
        for refused in ["javascript", "JavaScript", "data:", "file:", "<img", "t.png"] {
            assert!(!html.contains(refused), "{refused}: {html}");
        }
        assert!(html.contains(" x y z f ") && html.contains("alt text"), "{html}");
    }

    #[test]
    fn headings_become_paragraphs() {
        assert_eq!(render("# Big\ntext"), "<p>Big</p>\n<p>text</p>\n");
    }

    #[test]
    fn attributes_cannot_be_broken_out_of() {
        let html = render("```sh\" onmouseover=\"alert(1)\nx\n```\n[a](https://e.com/\"onmouseover=\"x \"t\\\"itle\")");
        assert!(!html.contains("\" onmouseover"), "{html}");
        assert!(!html.contains("\"onmouseover"), "{html}");
    }
}
