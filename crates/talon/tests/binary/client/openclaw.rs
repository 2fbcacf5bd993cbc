//! OpenClaw setups in and out: a dry run changes nothing, an import creates one agent per entry, a second
//! one changes nothing, a changed workspace file makes a version of that agent only, and an export
//! imports back unchanged.

use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use super::{ClientEnv, text, write};

/// Two agents: `main` with a model, an identity and a tool policy; `Research_Bot` with neither, its model
/// from `agents.defaults`.
fn fixture(dir: &Path) {
    let config = json!({"agents": {
        "defaults": {"model": {"primary": "test/echo", "fallbacks": ["test/fast", "test/slow"]}},
        "list": [
            {
                "id": "main", "default": true, "workspace": "./workspace",
                "model": {"primary": "test/echo"},
                "identity": {"name": "Front Desk", "emoji": "🦞"},
                "tools": {"allow": ["read", "exec", "group:fs"], "deny": ["exec"]},
            },
            {"id": "Research_Bot", "workspace": "workspace-research"},
        ],
    }});
    write(&dir.join("openclaw.json"), &serde_json::to_string_pretty(&config).unwrap());
    write(&dir.join("workspace/AGENTS.md"), "# AGENTS.md - Your Workspace\n\nAnswer in English.\n");
    write(&dir.join("workspace/SOUL.md"), "Be calm.\nBe brief.\n");
    write(&dir.join("workspace/USER.md"), "The user is Ada.\n");
    write(&dir.join("workspace/MEMORY.md"), "Not part of the prompt.\n");
    write(&dir.join("workspace-research/AGENTS.md"), "Research carefully.\n");
    write(&dir.join("workspace-research/IDENTITY.md"), "Name: Scout\n");
}

async fn head(env: &ClientEnv, slug: &str) -> Value {
    let (status, agent) = env.api(Method::GET, &format!("/api/agents/{slug}"), None).await;
    assert_eq!(status, 200, "{slug}: {agent}");
    agent
}

fn agent_count(env: &ClientEnv) -> usize {
    env.json(&["agents", "ls"])["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn import_dry_run_reimport_change_and_export_round_trip() {
    let env = ClientEnv::start();
    let setup = env.path("setup");
    fixture(&setup);
    let config = setup.join("openclaw.json");
    let config = config.to_str().unwrap();

    // The dry run shows both agents as new, with their prompts, and creates nothing.
    let plan = env.ok(&["import", "openclaw", config, "--dry-run"]);
    for expected in
        ["create main", "create research-bot", "+# SOUL.md", "+Be calm.", "+tool read", "+Research carefully."]
    {
        assert!(plan.contains(expected), "{expected} in:\n{plan}");
    }
    assert!(!plan.contains("Not part of the prompt") && !plan.contains("+tool exec"), "{plan}");
    assert_eq!(agent_count(&env), 0, "a dry run creates nothing");

    // The import: the folder works as PATH too.
    let out = env.ok(&["import", "openclaw", setup.to_str().unwrap()]);
    assert!(out.contains("main: created, v1") && out.contains("research-bot: created, v1"), "{out}");
    assert_eq!(agent_count(&env), 2);
    let main = head(&env, "main").await;
    assert_eq!(main["name"], "Front Desk");
    let version = &main["currentVersion"];
    assert_eq!(
        version["prompt"],
        "# AGENTS.md\n\n# AGENTS.md - Your Workspace\n\nAnswer in English.\n\n# SOUL.md\n\nBe calm.\nBe brief.\n\n\
         # USER.md\n\nThe user is Ada.\n"
    );
    assert_eq!((&version["model"]["primary"], &version["model"]["fallback"]), (&json!("test/echo"), &Value::Null));
    assert_eq!(version["tools"].as_array().unwrap().len(), 1, "{}", version["tools"]);
    assert_eq!(version["tools"][0]["name"], "read");
    assert_eq!(version["tools"][0]["parameters"], json!({"type": "object", "properties": {}}));
    assert_eq!(
        version["config"]["openclaw"],
        json!({"default": true, "identity": {"emoji": "🦞"},
               "tools": {"allow": ["read", "exec", "group:fs"], "deny": ["exec"]}})
    );
    assert_eq!(version["commitMessage"], "Imported from OpenClaw");
    let research = head(&env, "research-bot").await;
    assert_eq!(research["name"], "Research_Bot");
    let version = &research["currentVersion"];
    assert_eq!(version["prompt"], "# AGENTS.md\n\nResearch carefully.\n\n# IDENTITY.md\n\nName: Scout\n");
    assert_eq!(
        (&version["model"]["primary"], &version["model"]["fallback"]),
        (&json!("test/echo"), &json!("test/fast"))
    );
    assert_eq!(version["tools"], json!([]));
    assert!(version["config"].get("openclaw").is_none(), "{}", version["config"]);

    // What OpenClaw does not say is left as it is in Talon; importing again changes nothing.
    let (status, _) = env.api(Method::PATCH, "/api/agents/main", Some(json!({"description": "Set in Talon"}))).await;
    assert_eq!(status, 200);
    let out = env.ok(&["import", "openclaw", config]);
    assert!(out.contains("main: nothing to push (at v1)"), "{out}");
    assert!(out.contains("research-bot: nothing to push (at v1)"), "{out}");
    let plan = env.ok(&["import", "openclaw", config, "--dry-run"]);
    assert!(plan.contains("unchanged main") && plan.contains("unchanged research-bot"), "{plan}");

    // A changed workspace file: the dry run shows its diff, the import makes v2 of that agent only.
    write(&setup.join("workspace/SOUL.md"), "Be calm.\nBe thorough.\n");
    let plan = env.ok(&["import", "openclaw", config, "--dry-run"]);
    for expected in ["update main", "-Be brief.", "+Be thorough.", "--- a/prompt.md (v1)", "unchanged research-bot"] {
        assert!(plan.contains(expected), "{expected} in:\n{plan}");
    }
    assert!(!plan.contains("update research-bot"), "{plan}");
    let out = env.ok(&["import", "openclaw", config]);
    assert!(out.contains("main: v1 → v2 (prompt)"), "{out}");
    assert!(out.contains("research-bot: nothing to push (at v1)"), "{out}");
    assert_eq!(head(&env, "main").await["currentVersion"]["versionNumber"], 2);
    assert_eq!(head(&env, "research-bot").await["currentVersion"]["versionNumber"], 1);
    assert_eq!(head(&env, "main").await["description"], "Set in Talon");

    // Exported, both agents import back unchanged.
    let exported = env.path("exported");
    let out = env.ok(&["export", "openclaw", "main", "exported"]);
    assert!(out.contains("Exported main v2"), "{out}");
    env.ok(&["export", "openclaw", "research-bot", "exported"]);
    let soul = std::fs::read_to_string(exported.join("workspace-main/SOUL.md")).unwrap();
    assert_eq!(soul, "Be calm.\nBe thorough.\n");
    assert!(!exported.join("workspace-main/TOOLS.md").exists());
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(exported.join("openclaw.json")).unwrap()).unwrap();
    let list = written["agents"]["list"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{written}");
    assert_eq!(
        list[0],
        json!({"id": "main", "workspace": "workspace-main", "model": "test/echo", "default": true,
               "identity": {"name": "Front Desk", "emoji": "🦞"},
               "tools": {"allow": ["read", "exec", "group:fs"], "deny": ["exec"]}})
    );
    assert_eq!(list[1]["model"], json!({"primary": "test/echo", "fallbacks": ["test/fast"]}));
    assert_eq!(list[1]["identity"], json!({"name": "Research_Bot"}));
    let out = env.ok(&["import", "openclaw", exported.to_str().unwrap()]);
    assert!(out.contains("main: nothing to push (at v2)"), "{out}");
    assert!(out.contains("research-bot: nothing to push (at v1)"), "{out}");
}

#[test]
fn bad_setups_are_refused_naming_the_file_and_entry_and_change_nothing() {
    let env = ClientEnv::start();
    let setup = env.path("setup");
    fixture(&setup);
    let config = setup.join("openclaw.json");
    let refused = |contents: &str, expected: &str| {
        write(&config, contents);
        let out = env.run(&["import", "openclaw", config.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("openclaw.json") && err.contains(expected), "{expected} in: {err}");
    };
    refused("{agents: {list: []}} // JSON5", "not plain JSON");
    refused(r#"{"agents": {}}"#, "no `agents.list`");
    refused(
        r#"{"agents": {"list": [{"id": "main", "workspace": "workspace"}, {"workspace": "workspace"}]}}"#,
        "agents.list[1]: has no `id`",
    );
    refused(r#"{"agents": {"list": [{"id": "main", "workspace": "missing"}]}}"#, "missing does not exist");
    refused(
        r#"{"agents": {"list": [{"id": "main", "workspace": "workspace"}, {"id": "Main", "workspace": "workspace"}]}}"#,
        "agents.list[1] (`Main`): duplicate id",
    );
    assert_eq!(agent_count(&env), 0, "a bad entry stops the import before any agent is written");

    // A model of a provider the server does not have is the server's refusal, shown in that agent's line.
    write(&config, r#"{"agents": {"list": [{"id": "main", "workspace": "workspace", "model": "nope/model"}]}}"#);
    let out = env.run(&["import", "openclaw", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains("main: error:") && all.contains("VALIDATION_ERROR"), "{all}");
}
