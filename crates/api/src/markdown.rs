//! Markdown to HTML for answers: CommonMark with tables and strikethrough, then sanitized
//! (ammonia's allow-list: no scripts, no event handlers, no `javascript:` links), so a
//! frontend may insert it as it is.

use pulldown_cmark::{Options, Parser, html};

/// The sanitized HTML rendering of `markdown`.
pub fn to_safe_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown() {
        let html = to_safe_html("# Reset\n\n1. Open **Settings**\n2. Press `Reset`");
        assert!(html.contains("<h1>Reset</h1>"), "{html}");
        assert!(html.contains("<strong>Settings</strong>"), "{html}");
        assert!(html.contains("<code>Reset</code>"), "{html}");
    }

    #[test]
    fn scripts_and_handlers_never_reach_the_html() {
        let markdown = "Hi <script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
                        [click](javascript:alert(3)) <a href=\"https://rapport.dev\" onclick=\"x()\">ok</a>";
        let html = to_safe_html(markdown);
        for bad in ["<script", "alert(1)", "onerror", "javascript:", "onclick"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(html.contains("href=\"https://rapport.dev\""), "{html}");
    }
}
