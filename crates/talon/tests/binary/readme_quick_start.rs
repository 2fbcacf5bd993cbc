//! The README's Quick Start shows the commands of `examples/quickstart.sh` (which CI runs), step by step,
//! and CI starts the server with the serve command the Quick Start shows.

use std::path::Path;

fn read(relative: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Each `step "Title"` of the script with the commands up to the next step.
fn steps(script: &str) -> Vec<(String, String)> {
    let mut steps: Vec<(String, String)> = Vec::new();
    for line in script.lines() {
        if let Some(title) = line.strip_prefix("step \"").and_then(|rest| rest.strip_suffix('"')) {
            steps.push((title.to_owned(), String::new()));
        } else if let Some((_, body)) = steps.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    steps
}

#[test]
fn the_readme_shows_every_step_of_the_quick_start_script() {
    let script = read("examples/quickstart.sh");
    let readme = read("README.md");
    let steps = steps(&script);
    assert!(steps.len() >= 10, "the script's steps: {steps:?}");
    for (title, body) in steps {
        let commands = body.trim_end().trim_end_matches("printf '\\nQuick Start: every step passed.\\n'").trim_end();
        let shown = format!("# {title}\n{commands}\n");
        assert!(readme.contains(&shown), "the README does not show the step as the script runs it:\n{shown}");
    }
}

#[test]
fn ci_starts_the_server_with_the_quick_start_serve_command() {
    let command = "TALON_CONFIG=examples/talon.toml TALON_WEBHOOK_ALLOW_PRIVATE=true cargo run --release -- serve";
    assert!(read("README.md").contains(&format!("```sh\n{command}\n```")), "the README shows `{command}`");
    assert!(read(".ci/run").contains(&format!("\n{command} >")), ".ci/run runs `{command}`");
    assert!(read(".ci/run").contains("bash examples/quickstart.sh"), ".ci/run runs the Quick Start");
}
