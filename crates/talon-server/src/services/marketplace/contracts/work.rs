//! Contracts an agent works itself (`auto_work` on its profile). Once a contract is funded, the agent's
//! deployed version gets a runtime task with the gig's brief and the contract's conversation; its
//! answer is delivered as the contract's `delivery_notes`. A revision request (a new round) asks for a
//! new task, which sees the request as the client's latest message. The work is found by polling the
//! store, so a crash between two steps only delays it: every step is conditional and repeatable.

use serde_json::{Value, json};
use talon_domain::agent::AgentRef;
use talon_domain::task::{Executor, NewTask, TaskDraft};
use talon_store::{FinishedWork, MessageRecord, WorkOrder};

use super::escrow::{Delivery, NOTES_MAX};
use super::{Contracts, MarketResult};
use crate::services::tasks::{CreateTask, TaskService};
use crate::services::{Caller, ServiceError};

/// Contracts looked at per step, in each direction.
const BATCH: i64 = 32;

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkStep {
    pub tasks_queued: usize,
    pub delivered: usize,
}

impl Contracts {
    /// Queues a task for every contract waiting for one and delivers every finished task's answer.
    pub async fn work_step(&self, tasks: &TaskService) -> MarketResult<WorkStep> {
        let mut step = WorkStep::default();
        for order in self.deps.store.contracts_to_work(BATCH).await? {
            match self.queue_work(tasks, &order).await {
                Ok(true) => step.tasks_queued += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(contract = %order.contract, error = %e, "could not queue the contract's task"),
            }
        }
        for done in self.deps.store.finished_work(BATCH).await? {
            match self.deliver_work(&done).await {
                Ok(()) => step.delivered += 1,
                Err(e) => tracing::warn!(contract = %done.contract, error = %e, "could not deliver the task's answer"),
            }
        }
        Ok(step)
    }

    /// Creates the round's task (once: its dedupe key names the contract and round) and ties it to the
    /// contract; `false` when the contract moved on meanwhile.
    async fn queue_work(&self, tasks: &TaskService, order: &WorkOrder) -> MarketResult<bool> {
        let contract =
            self.deps.store.contract(order.contract).await?.ok_or_else(|| ServiceError::NotFound("Contract"))?;
        let gig = self.gig_of(&contract).await?;
        let messages = self.deps.store.contract_messages(contract.id).await?;
        let input = json!({
            "contract_id": contract.id.to_string(),
            "gig_id": gig.id.to_string(),
            "messages": conversation(&gig.title, &gig.description, gig.deliverables.as_deref(), &contract.amount.to_usdc_string(), &messages, contract.agent_id),
        });
        let task = NewTask::new(TaskDraft {
            title: truncated(&format!("Contract {}: {}", contract.id, gig.title), 200),
            description: Some(truncated(&gig.description, 10_000)),
            priority: None,
            input: Some(input),
            max_attempts: None,
            run_at: None,
            dedupe_key: Some(format!("{}:round:{}", contract.id, order.round)),
        })?;
        let caller = self.holder(order.holder, None).await?;
        let request = CreateTask {
            agent: AgentRef::Id(order.agent),
            version: Some(talon_domain::agent::VersionRef::Id(order.version)),
            executor: Some(Executor::Runtime),
            task,
        };
        let (task, _) = tasks.create(&caller, request).await?;
        Ok(self.deps.store.assign_contract_task(contract.id, task.id, order.round).await?)
    }

    /// Delivers the task's answer as the agent.
    async fn deliver_work(&self, done: &FinishedWork) -> MarketResult<()> {
        let caller = self.holder(done.holder, Some(done.agent)).await?;
        let notes = answer_text(&done.output, done.task);
        self.deliver(&caller, done.contract, Delivery { notes, deliverables_url: None, attachments: Vec::new() })
            .await
            .map(|_| ())
    }

    async fn holder(&self, holder: talon_domain::UserId, agent: Option<talon_domain::AgentId>) -> MarketResult<Caller> {
        let account = self
            .deps
            .store
            .account_by_id(holder)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("account {holder} is gone")))?;
        Ok(Caller { account, only_agent: agent, actor: talon_domain::audit::Actor::System })
    }
}

/// The task's messages: the brief as the first user message, then the contract's conversation (the
/// client's messages as the user's, the agent's as its own), ending on a user turn.
fn conversation(
    title: &str,
    description: &str,
    deliverables: Option<&str>,
    amount: &str,
    messages: &[MessageRecord],
    agent: talon_domain::AgentId,
) -> Value {
    let mut brief = format!(
        "You were hired on the marketplace for this gig, for {amount} USDC.\n\nTitle: {title}\n\nDescription:\n{description}"
    );
    if let Some(deliverables) = deliverables {
        brief.push_str(&format!("\n\nDeliverables:\n{deliverables}"));
    }
    brief.push_str("\n\nAnswer with the work itself: your answer is delivered to the client as it is.");
    let mut turns = vec![json!({"role": "user", "content": brief})];
    let mut last_is_user = true;
    for message in messages {
        let from_agent = message.sender_agent_id == Some(agent);
        turns.push(json!({"role": if from_agent { "assistant" } else { "user" }, "content": message.content}));
        last_is_user = !from_agent;
    }
    if !last_is_user {
        turns.push(json!({"role": "user", "content": "Deliver the work now."}));
    }
    Value::Array(turns)
}

/// The answer's text (`content` of a runtime task's output), cut to what a delivery holds, saying so.
fn answer_text(output: &Value, task: talon_domain::TaskId) -> String {
    let text = match output.get("content").and_then(Value::as_str) {
        Some(content) if !content.trim().is_empty() => content.to_owned(),
        _ => output.to_string(),
    };
    if text.chars().count() <= NOTES_MAX {
        return text;
    }
    let note = format!("\n\n[Cut to {NOTES_MAX} characters: the whole answer is the output of task {task}.]");
    let keep = NOTES_MAX - note.chars().count();
    text.chars().take(keep).collect::<String>() + &note
}

fn truncated(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use talon_domain::{AgentId, ContractId, MessageId, TaskId, UserId};

    use super::*;

    fn message(from_agent: Option<AgentId>, content: &str) -> MessageRecord {
        MessageRecord {
            id: MessageId::new(),
            contract_id: ContractId::new(),
            sender_id: if from_agent.is_some() { None } else { Some(UserId::new()) },
            sender_agent_id: from_agent,
            content: content.into(),
            attachment_url: None,
            attachment_name: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn the_conversation_starts_with_the_brief_and_ends_on_the_clients_turn() {
        let agent = AgentId::new();
        let turns = conversation("Scrape", "All products", Some("A CSV"), "100", &[], agent);
        assert_eq!(turns.as_array().unwrap().len(), 1);
        let brief = turns[0]["content"].as_str().unwrap();
        assert!(
            brief.contains("Scrape")
                && brief.contains("All products")
                && brief.contains("A CSV")
                && brief.contains("100 USDC")
        );

        let talk = [message(None, "Prices in EUR"), message(Some(agent), "Noted")];
        let turns = conversation("Scrape", "All products", None, "100", &talk, agent);
        let roles: Vec<&str> = turns.as_array().unwrap().iter().map(|t| t["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "user", "assistant", "user"]);

        let revision = [message(Some(agent), "v1"), message(None, "Revision requested: add stock")];
        let turns = conversation("Scrape", "All products", None, "100", &revision, agent);
        assert_eq!(turns.as_array().unwrap().last().unwrap()["content"], "Revision requested: add stock");
    }

    #[test]
    fn a_long_answer_is_cut_with_a_note_naming_the_task() {
        let task = TaskId::new();
        assert_eq!(answer_text(&json!({"content": "Done"}), task), "Done");
        assert_eq!(answer_text(&json!({"content": ""}), task), r#"{"content":""}"#);
        let long = answer_text(&json!({"content": "x".repeat(NOTES_MAX + 5)}), task);
        assert_eq!(long.chars().count(), NOTES_MAX);
        assert!(long.ends_with(&format!("output of task {task}.]")));
    }
}
