//! SQL shared by both databases (`$N` placeholders, bound by number on both). Statements where the
//! dialects differ live in each store's `dialect` module.

pub(crate) const INSERT_AGENT: &str = "INSERT INTO agents (id, user_id, slug, name, description, capabilities, \
     public, status, current_version_id, deployed_version_id, deployed_at, fork_count, depth, parent_agent_id, \
     parent_version_id, fork_type, created_at, updated_at, api_access) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";

pub(crate) const INSERT_VERSION: &str = "INSERT INTO agent_versions (id, agent_id, number, parent_version_id, \
     definition, content_hash, commit_message, fork_type, created_by, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(crate) const INSERT_EVENT: &str =
    "INSERT INTO events (id, user_id, kind, data, created_at) VALUES ($1, $2, $3, $4, $5)";

pub(crate) const COUNT_FORK: &str = "UPDATE agents SET fork_count = fork_count + 1 WHERE id = $1";

pub(crate) const UNCOUNT_FORK: &str =
    "UPDATE agents SET fork_count = fork_count - 1 WHERE id = (SELECT parent_agent_id FROM agents WHERE id = $1)";

pub(crate) const UPDATE_PROFILE: &str = "UPDATE agents SET name = $1, description = $2, capabilities = $3, \
     public = $4, api_access = $5, updated_at = $6 WHERE id = $7";

pub(crate) const UPDATE_DEPLOYMENT: &str = "UPDATE agents SET status = $1, deployed_version_id = $2, \
     deployed_at = $3, updated_at = $4 WHERE id = $5";

/// Moves the agent to its new version only if the expected parent is still current.
pub(crate) const ADVANCE_CURRENT_VERSION: &str =
    "UPDATE agents SET current_version_id = $1, updated_at = $2 WHERE id = $3 AND current_version_id = $4";

pub(crate) const FORK_COUNT: &str = "SELECT fork_count FROM agents WHERE id = $1";

pub(crate) const DELETE_AGENT: &str = "DELETE FROM agents WHERE id = $1";

/// Up from the agent to its root, then down from the root to every descendant.
pub(crate) const LINEAGE: &str = "WITH RECURSIVE
    up (id, parent_agent_id) AS (
        SELECT id, parent_agent_id FROM agents WHERE id = $1
        UNION ALL
        SELECT a.id, a.parent_agent_id FROM agents a JOIN up ON a.id = up.parent_agent_id
    ),
    down (id) AS (
        SELECT id FROM up WHERE parent_agent_id IS NULL
        UNION ALL
        SELECT a.id FROM agents a JOIN down ON a.parent_agent_id = down.id
    )
    SELECT a.id, a.user_id, a.public, a.parent_agent_id, a.name, a.fork_type, a.parent_version_id, a.current_version_id, v.number
    FROM down
    JOIN agents a ON a.id = down.id
    JOIN agent_versions v ON v.id = a.current_version_id";

pub(crate) const INSERT_TASK: &str = "INSERT INTO tasks (id, user_id, agent_id, version_id, title, description, \
     priority, status, executor, input, output, error, attempts, max_attempts, run_at, dedupe_key, lease_token, \
     lease_expires_at, created_at, updated_at, started_at, completed_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
     ON CONFLICT (user_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running') DO NOTHING";

pub(crate) const TASK_HOLDING_DEDUPE_KEY: &str = "SELECT id, user_id, agent_id, version_id, title, description, \
     priority, status, executor, input, output, error, attempts, max_attempts, run_at, dedupe_key, lease_token, \
     lease_expires_at, created_at, updated_at, started_at, completed_at FROM tasks \
     WHERE user_id = $1 AND dedupe_key = $2 AND status IN ('queued', 'running')";

/// Compare-and-swap on status and lease (an absent lease compares as '').
pub(crate) const UPDATE_TASK: &str = "UPDATE tasks SET status = $1, output = $2, error = $3, attempts = $4, \
     lease_token = $5, lease_expires_at = $6, started_at = $7, completed_at = $8, updated_at = $9, run_at = $13 \
     WHERE id = $10 AND status = $11 AND COALESCE(lease_token, '') = $12";

pub(crate) const RUNNING_TASKS_OF_AGENT: &str = "SELECT COUNT(*) FROM tasks WHERE agent_id = $1 AND status = 'running'";

pub(crate) const INSERT_WEBHOOK: &str = "INSERT INTO webhooks (id, user_id, url, events, description, active, \
     disabled_reason, secret, previous_secret, previous_secret_expires_at, failing_since, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

pub(crate) const UPDATE_WEBHOOK: &str = "UPDATE webhooks SET url = $3, events = $4, description = $5, active = $6, \
     disabled_reason = $7, secret = $8, previous_secret = $9, previous_secret_expires_at = $10, \
     failing_since = $11, updated_at = $13 WHERE id = $1 AND user_id = $2 AND created_at = $12";

pub(crate) const INSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries (id, webhook_id, user_id, event_id, \
     event_kind, payload, status, attempts, next_attempt_at, last_status_code, last_error, last_latency_ms, \
     last_response_body, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
     ON CONFLICT (webhook_id, event_id) DO NOTHING";

pub(crate) const UPDATE_DELIVERY: &str = "UPDATE webhook_deliveries SET status = $2, attempts = $3, \
     next_attempt_at = $4, locked_until = NULL, last_status_code = $5, last_error = $6, last_latency_ms = $7, \
     last_response_body = $8, updated_at = $9 WHERE id = $1";

pub(crate) const ACTIVE_WEBHOOKS_OF: &str = "SELECT id, user_id, url, events, description, active, disabled_reason, \
     secret, previous_secret, previous_secret_expires_at, failing_since, created_at, updated_at \
     FROM webhooks WHERE user_id = $1 AND active";

pub(crate) const MARK_DISPATCHED: &str = "UPDATE events SET dispatched_at = $1 WHERE id = $2";

/// Outcome updates name only the columns deliveries own, and apply only while the URL attempted is
/// still the webhook's (`$2`).
pub(crate) const WEBHOOK_DELIVERED: &str =
    "UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND url = $2 AND failing_since IS NOT NULL";

/// A streak that began at or before `$4` switches the webhook off (unless it is off already).
pub(crate) const WEBHOOK_FAILED: &str = "UPDATE webhooks SET failing_since = COALESCE(failing_since, $3), \
     disabled_reason = CASE WHEN active AND failing_since <= $4 THEN $5 ELSE disabled_reason END, \
     updated_at = CASE WHEN active AND failing_since <= $4 THEN $3 ELSE updated_at END, \
     active = CASE WHEN failing_since <= $4 THEN FALSE ELSE active END \
     WHERE id = $1 AND url = $2";

pub(crate) const WEBHOOK_GONE: &str = "UPDATE webhooks SET active = FALSE, disabled_reason = $4, updated_at = $3 \
     WHERE id = $1 AND url = $2 AND active";

/// Claims picked deliveries (`WHERE id IN (…)` follows) that are still claimable at `$1`, until `$2`.
pub(crate) const CLAIM_PICKED_DELIVERIES: &str = "UPDATE webhook_deliveries SET status = 'sending', \
     locked_until = $2, updated_at = $1 \
     WHERE ((status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND locked_until < $1)) AND";

/// The ids of up to `$2` deliveries to claim at `$1`, within `$3` in flight per webhook and `$4` per
/// account (deliveries held until after `$1` count as in flight). Each webhook offers its oldest due
/// deliveries; accounts then take turns by rank, so claims interleave accounts and webhooks. Every
/// scan names `status IN ('pending', 'sending')` so it reads only the partial index of open deliveries,
/// never the delivery history, and in-flight counts are grouped once rather than per candidate.
pub(crate) const FAIR_DELIVERY_PICK: &str = "SELECT ranked.id FROM (
         SELECT offered.id, offered.user_id, offered.next_attempt_at,
                ROW_NUMBER() OVER (PARTITION BY offered.user_id
                                   ORDER BY offered.hook_rank, offered.next_attempt_at, offered.id) AS account_rank
         FROM (
             SELECT d.id, d.user_id, d.webhook_id, d.next_attempt_at,
                    ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS hook_rank
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.status IN ('pending', 'sending') AND w.active
               AND ((d.status = 'pending' AND d.next_attempt_at <= $1)
                    OR (d.status = 'sending' AND d.locked_until < $1))
         ) offered
         LEFT JOIN (SELECT webhook_id, COUNT(*) AS held FROM webhook_deliveries
                    WHERE status IN ('pending', 'sending') AND status = 'sending' AND locked_until >= $1
                    GROUP BY webhook_id) hook_busy ON hook_busy.webhook_id = offered.webhook_id
         WHERE offered.hook_rank + COALESCE(hook_busy.held, 0) <= $3
     ) ranked
     LEFT JOIN (SELECT user_id, COUNT(*) AS held FROM webhook_deliveries
                WHERE status IN ('pending', 'sending') AND status = 'sending' AND locked_until >= $1
                GROUP BY user_id) account_busy ON account_busy.user_id = ranked.user_id
     WHERE ranked.account_rank + COALESCE(account_busy.held, 0) <= $4
     ORDER BY ranked.account_rank, ranked.next_attempt_at, ranked.id
     LIMIT $2";
