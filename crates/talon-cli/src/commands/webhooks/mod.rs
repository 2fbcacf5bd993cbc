//! `talon webhooks listen|ls|deliveries|redeliver|test|rm`. `listen` (listen.rs) receives the account's
//! events on this machine through a temporary webhook (deleted when it stops), checks each signature and
//! forwards what it verified to a local app; `--poll` follows the delivery log instead, for a server
//! that cannot reach this machine.

mod listen;

use listen::listen;

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use talon_domain::event::EVENT_TYPES;

use super::Session;
use crate::client::segment;
use crate::error::CliError;
use crate::output::{self, Table};

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Receive the account's events here while this runs, like `stripe listen`: a temporary webhook
    /// (deleted when it stops) points at a local receiver, which checks each signature, prints the
    /// event and forwards it to --forward-to.
    Listen(ListenArgs),
    /// List the account's webhooks.
    Ls,
    /// A webhook's delivery log, newest first.
    Deliveries {
        /// The webhook's id (hook_…).
        webhook_id: String,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Send a delivery again now (`talon webhooks deliveries` lists them).
    Redeliver {
        /// The webhook's id (hook_…).
        webhook_id: String,
        /// The delivery's id.
        delivery_id: String,
    },
    /// Send a `ping` event to a webhook (its delivery shows in `talon webhooks deliveries`).
    Test {
        /// The webhook's id (hook_…).
        webhook_id: String,
    },
    /// Delete a webhook.
    Rm {
        /// The webhook's id (hook_…).
        webhook_id: String,
    },
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Forward each verified event (its raw body and signature headers) to this URL and show its answer,
    /// which is also what the server is told.
    #[arg(long)]
    pub forward_to: Option<String>,
    /// The events to receive, comma-separated [default: all].
    #[arg(long, value_delimiter = ',', value_parser = event_names())]
    pub events: Vec<String>,
    /// A public URL that reaches the local receiver (a tunnel to it), for a server that cannot reach
    /// this machine's loopback address [default: the receiver's own http://127.0.0.1 URL].
    #[arg(long)]
    pub url: Option<String>,
    /// The local receiver's port [default: one the system picks].
    #[arg(long)]
    pub port: Option<u16>,
    /// Receive nothing here: follow the webhook's delivery log instead (each delivery's event and status,
    /// no payloads), for a server that cannot reach this machine at all.
    #[arg(long, conflicts_with_all = ["forward_to", "url", "port"])]
    pub poll: bool,
}

/// What a webhook may subscribe to: `*` (every event) or one of the events the server emits.
fn event_names() -> PossibleValuesParser {
    PossibleValuesParser::new(std::iter::once("*").chain(EVENT_TYPES.iter().copied()))
}

pub async fn webhooks(session: &Session, command: WebhooksCommand) -> Result<(), CliError> {
    match command {
        WebhooksCommand::Listen(args) => listen(session, args).await,
        WebhooksCommand::Ls => list(session).await,
        WebhooksCommand::Deliveries { webhook_id, limit } => deliveries(session, &webhook_id, limit).await,
        WebhooksCommand::Redeliver { webhook_id, delivery_id } => {
            let path = format!("/api/webhooks/{}/deliveries/{}/redeliver", segment(&webhook_id), segment(&delivery_id));
            let delivery: Value = session.client.post(&path, &json!({})).await?;
            print_delivery(session, "Redelivering", &delivery);
            Ok(())
        }
        WebhooksCommand::Test { webhook_id } => {
            let path = format!("/api/webhooks/{}/test", segment(&webhook_id));
            let delivery: Value = session.client.post(&path, &json!({})).await?;
            print_delivery(session, "Sending", &delivery);
            Ok(())
        }
        WebhooksCommand::Rm { webhook_id } => {
            session.client.delete(&format!("/api/webhooks/{}", segment(&webhook_id))).await?;
            anstream::println!("Deleted webhook {webhook_id}");
            Ok(())
        }
    }
}

async fn list(session: &Session) -> Result<(), CliError> {
    let hooks: Value = session.client.get("/api/webhooks").await?;
    if session.json {
        output::print_json(&hooks);
        return Ok(());
    }
    let mut table = Table::new(["ID", "URL", "EVENTS", "ACTIVE", "DESCRIPTION", "CREATED"]);
    for hook in hooks["data"].as_array().into_iter().flatten() {
        let events: Vec<&str> = hook["events"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let active = match (hook["active"].as_bool(), hook["disabledReason"].as_str()) {
            (Some(true), _) => "yes".to_owned(),
            (_, Some(reason)) => format!("no ({reason})"),
            _ => "no".to_owned(),
        };
        table.row(vec![
            output::cell(&hook["id"]),
            output::cell(&hook["url"]),
            events.join(","),
            active,
            output::cell(&hook["description"]),
            output::when(&hook["createdAt"]),
        ]);
    }
    table.print();
    Ok(())
}

async fn deliveries(session: &Session, webhook_id: &str, limit: u32) -> Result<(), CliError> {
    let path = format!("/api/webhooks/{}/deliveries?limit={}", segment(webhook_id), limit.clamp(1, 100));
    let page: Value = session.client.get(&path).await?;
    if session.json {
        output::print_json(&page);
        return Ok(());
    }
    let mut table = Table::new(["ID", "EVENT", "STATUS", "ATTEMPTS", "LAST CODE", "WHEN"]);
    for delivery in page["data"].as_array().into_iter().flatten() {
        table.row(vec![
            output::cell(&delivery["id"]),
            output::cell(&delivery["event"]),
            output::cell(&delivery["status"]),
            output::cell(&delivery["attempts"]),
            output::cell(&delivery["lastStatusCode"]),
            output::when(&delivery["createdAt"]),
        ]);
    }
    table.print();
    Ok(())
}

fn print_delivery(session: &Session, doing: &str, delivery: &Value) {
    if session.json {
        output::print_json(delivery);
    } else {
        anstream::println!(
            "{doing} {} (delivery {}, {})",
            output::cell(&delivery["event"]),
            output::cell(&delivery["id"]),
            output::cell(&delivery["status"])
        );
    }
}
