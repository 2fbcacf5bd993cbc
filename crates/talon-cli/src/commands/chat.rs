//! `talon chat AGENT[@N|@LABEL]`: a conversation with a deployed agent through the OpenAI-compatible API,
//! streamed as it is written. On a terminal, an interactive session (`/reset` starts over, `/version`
//! says which version answered, `/exit` or Ctrl-D leaves); otherwise one message read from standard
//! input and its answer printed, so it composes in pipes.

use std::io::{BufRead, IsTerminal, Read, Write};

use clap::Args;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use super::Session;
use super::agents::AgentRef;
use crate::error::CliError;
use crate::output::{self, DIM, paint};

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// AGENT (the version it serves), AGENT@N or AGENT@LABEL (e.g. support-bot@production).
    pub agent: AgentRef,
    /// A system message put before the conversation.
    #[arg(long)]
    pub system: Option<String>,
    /// Wait for whole answers instead of streaming them.
    #[arg(long)]
    pub no_stream: bool,
}

/// One answer: its text and who gave it.
struct Answer {
    text: String,
    model: Option<String>,
    version: Option<String>,
}

pub async fn chat(session: &Session, args: ChatArgs) -> Result<(), CliError> {
    let model = match &args.agent.version {
        Some(pin) => format!("{}@{pin}", args.agent.agent),
        None => args.agent.agent.clone(),
    };
    let mut messages: Vec<Value> = args.system.iter().map(|s| json!({"role": "system", "content": s})).collect();
    if !std::io::stdin().is_terminal() {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input).map_err(CliError::io("reading standard input"))?;
        if input.trim().is_empty() {
            return Err(CliError::Usage("nothing to send: standard input was empty".into()));
        }
        messages.push(json!({"role": "user", "content": input.trim_end()}));
        let answer = ask(session, &model, &messages, !args.no_stream, !session.json).await?;
        if session.json {
            output::print_json(&json!({"model": answer.model, "version": answer.version, "content": answer.text}));
        } else if args.no_stream {
            println!("{}", answer.text);
        }
        return Ok(());
    }
    anstream::eprintln!("{}", paint(DIM, format!("Chatting with {model}: /reset, /version, /exit (or Ctrl-D)")));
    let mut last_version: Option<String> = None;
    let stdin = std::io::stdin();
    loop {
        anstream::eprint!("> ");
        std::io::stderr().flush().ok();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).map_err(CliError::io("reading standard input"))? == 0 {
            return Ok(());
        }
        match line.trim() {
            "" => continue,
            "/exit" | "/quit" => return Ok(()),
            "/reset" => {
                messages.retain(|m| m["role"] == "system");
                anstream::eprintln!("{}", paint(DIM, "(conversation cleared)"));
                continue;
            }
            "/version" => {
                let said = last_version.as_deref().unwrap_or("no answer yet");
                anstream::eprintln!("{}", paint(DIM, format!("{model}: {said}")));
                continue;
            }
            text => messages.push(json!({"role": "user", "content": text})),
        }
        match ask(session, &model, &messages, !args.no_stream, true).await {
            Ok(answer) => {
                if args.no_stream {
                    println!("{}", answer.text);
                }
                last_version = answer.version.clone().or(last_version);
                messages.push(json!({"role": "assistant", "content": answer.text}));
            }
            Err(e) => {
                // The question stays unanswered; the session goes on.
                messages.pop();
                anstream::eprintln!("{} {e}", paint(output::REMOVED, "error:"));
            }
        }
    }
}

/// Sends the conversation; with `stream`, prints the tokens as they arrive (when `echo`).
async fn ask(session: &Session, model: &str, messages: &[Value], stream: bool, echo: bool) -> Result<Answer, CliError> {
    let body = json!({"model": model, "messages": messages, "stream": stream});
    let response =
        session.client.send(session.client.authed(Method::POST, "/v1/chat/completions")?.json(&body)).await?;
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (mut model_used, version) = (header("x-talon-model"), header("x-talon-agent-version"));
    if !stream {
        let value: Value = response.json().await.map_err(|e| CliError::Protocol(e.to_string()))?;
        let text = value["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned();
        return Ok(Answer { text, model: model_used.or_else(|| value["model"].as_str().map(str::to_owned)), version });
    }
    let mut events = response.bytes_stream().eventsource();
    let mut text = String::new();
    let mut out = std::io::stdout();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| CliError::Protocol(format!("the answer's stream broke: {e}")))?;
        if event.data == "[DONE]" {
            break;
        }
        let chunk: Value = serde_json::from_str(&event.data).map_err(|e| CliError::Protocol(e.to_string()))?;
        if let Some(error) = chunk.get("error") {
            return Err(CliError::Api {
                status: 502,
                code: output::cell(&error["code"]),
                message: output::cell(&error["message"]),
                request_id: None,
                details: Vec::new(),
            });
        }
        if model_used.is_none() {
            model_used = chunk["model"].as_str().map(str::to_owned);
        }
        if let Some(delta) = chunk["choices"][0]["delta"]["content"].as_str() {
            text.push_str(delta);
            if echo {
                out.write_all(delta.as_bytes()).map_err(CliError::io("writing the answer"))?;
                out.flush().ok();
            }
        }
    }
    if echo {
        println!();
    }
    Ok(Answer { text, model: model_used, version })
}
