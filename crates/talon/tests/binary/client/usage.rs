//! `talon usage AGENT`: the chat answers an agent gave, per version and in total.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use super::{ClientEnv, text};

#[tokio::test]
async fn usage_counts_the_answers_an_agent_gave() {
    let env = ClientEnv::start();
    env.ok(&["init", "--name", "Counter"]);
    env.ok(&["push", "counter"]);
    env.ok(&["deploy", "counter"]);
    let sent = 2;
    for _ in 0..sent {
        let body = json!({"model": "counter", "messages": [{"role": "user", "content": "hi"}]});
        let (status, answer) = env.api(Method::POST, "/v1/chat/completions", Some(body)).await;
        assert_eq!(status, 200, "{answer}");
    }

    // Usage is written in batches moments after each answer.
    let deadline = Instant::now() + Duration::from_secs(5);
    let report = loop {
        let report = env.json(&["usage", "counter"]);
        if report["total"]["requests"].as_u64() >= Some(sent) || Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(report["total"]["requests"].as_u64() >= Some(sent), "{report}");
    assert_eq!(report["versions"][0]["version"], 1, "{report}");
    let table = env.ok(&["usage", "counter"]);
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert!(
        rows.iter().any(|r| r.starts_with("v1 ")) && rows.last().is_some_and(|r| r.starts_with("total")),
        "{table}"
    );

    // A period with no answers in it, one end with an offset (sent encoded).
    let past = env.json(&["usage", "counter", "--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00+01:00"]);
    assert_eq!((past["total"]["requests"].as_u64(), past["versions"].as_array().map(Vec::len)), (Some(0), Some(0)));
    let out = env.run(&["usage", "counter", "--from", "yesterday"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
