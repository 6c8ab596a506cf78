//! Every TOML example in the operator page docs/rules.md is a valid rule
//! file, so the page cannot drift from what Tern accepts.

use tern_rules::RuleSet;

const PAGE: &str = include_str!("../../docs/rules.md");

/// The bodies of the page's ```toml blocks, with the line each starts on.
fn toml_blocks() -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in PAGE.lines().enumerate() {
        match &mut current {
            None if line.trim() == "```toml" => current = Some((i + 2, String::new())),
            Some(_) if line.trim() == "```" => blocks.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn every_toml_example_in_the_docs_loads() {
    let blocks = toml_blocks();
    assert!(blocks.len() >= 10, "found only {} blocks", blocks.len());
    for (line, mut body) in blocks {
        // A fragment showing one key is checked inside a rule of its own,
        // given an action if it has none.
        if !body.contains("[[rule]]") {
            let has_action = ["route", "reject", "consistency"]
                .iter()
                .any(|key| body.trim_start().starts_with(key));
            body = format!("[[rule]]\n{body}");
            if !has_action {
                body.push_str("route = \"replica\"\n");
            }
        }
        if let Err(e) = RuleSet::from_toml(&body) {
            panic!("docs/rules.md block at line {line} is refused:\n{e}\n---\n{body}");
        }
    }
}
