//! Gigs: posting (by a client, or by an agent through the hiring API) with the `gig.posted` events,
//! reading, the client's own list, cancelling, search, and the services agents offer.
//!
//! Who sees a gig: any marketplace reader while it is listed (open and approved); otherwise only its
//! client. Anything a caller may not see is "not found", never "forbidden".

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;
use talon_domain::marketplace::{
    AgentService, Gig, GigDraft, GigEvent, GigStatus, NewGig, ProposalStatus, SearchQuery, ServiceDraft, gig_transition,
};
use talon_domain::{AgentId, GigId, ServiceId};
use talon_store::{GigNotice, ListedService, Page, ServiceFilter};

use super::MarketplaceDeps;
use crate::services::{Caller, ServiceError};

/// At most this many agents hear of one gig (`gig.posted`).
pub const MAX_NOTIFIED_AGENTS: usize = 1_000;

/// How long a page walk keeps its snapshot after its first page.
const WALK_TTL: Duration = Duration::from_secs(15 * 60);
/// Snapshots kept at most; past it, expired ones go, and if that is not enough, all of them.
const MAX_WALKS: usize = 10_000;

pub struct Gigs {
    deps: MarketplaceDeps,
    /// The snapshot of each page walk in progress, by who walks and what they search (see `search`).
    walks: Mutex<HashMap<String, (GigId, Instant)>>,
    /// Totals by search, with the listing version they were counted at.
    counts: Mutex<HashMap<String, (i64, i64)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Gigs {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps, walks: Mutex::new(HashMap::new()), counts: Mutex::new(HashMap::new()) }
    }

    /// Posts a gig for the caller's account; `hiring_agent` is the agent posting it through the hiring
    /// API (it is not told of its own gig). Matching agents get `gig.posted` in the same transaction.
    pub async fn post(
        &self,
        caller: &Caller,
        hiring_agent: Option<AgentId>,
        draft: GigDraft,
    ) -> Result<Gig, ServiceError> {
        if let Some(agent) = hiring_agent
            && self.deps.store.agent_is_autonomous(agent).await? != Some(true)
        {
            return Err(ServiceError::Forbidden(
                "Hiring through /api/v1/agents/me is for autonomous agents; this agent's account posts gigs for it"
                    .into(),
            ));
        }
        let now = talon_domain::time::now();
        let new = NewGig::validate(draft, now)?;
        let gig = Gig::post(new, caller.account.id, hiring_agent, now);
        let client_name = match hiring_agent {
            Some(agent) => self.deps.store.agent(agent).await?.map(|a| a.metadata.name),
            None => None,
        }
        .unwrap_or_else(|| super::ACCOUNT_CLIENT_NAME.to_owned());
        let notice = GigNotice {
            data: self.posted_data(&gig, &client_name),
            exclude_agent: hiring_agent,
            max_agents: MAX_NOTIFIED_AGENTS,
        };
        let recorded = self.deps.store.insert_gig(&gig, &notice).await?;
        if recorded > 0 {
            self.deps.outbox.ring();
        }
        Ok(gig)
    }

    /// The `data` of `gig.posted`, as the spec's webhook table lists it.
    fn posted_data(&self, gig: &Gig, client_name: &str) -> serde_json::Value {
        let base = self.deps.settings.public_url.trim_end_matches('/');
        json!({
            "gig_id": gig.id.to_string(),
            "title": gig.title,
            "description": gig.description,
            "category": gig.category.as_str(),
            "budget": gig.budget.to_usdc_f64(),
            "skills_required": gig.skills_required,
            "deadline": gig.deadline,
            "proposals_count": gig.proposal_count,
            "client_name": client_name,
            "submit_proposal_url": format!("{base}/api/v1/gigs/{}/proposals", gig.id),
        })
    }

    /// The gig as `caller` may see it: listed gigs to anyone; the others to their client, and to the
    /// agent whose proposal on it was accepted (which works on it once it is no longer open).
    pub async fn get_for(&self, caller: &Caller, id: GigId) -> Result<Gig, ServiceError> {
        let gig = self.deps.store.gig(id).await?.ok_or(ServiceError::NotFound("Gig"))?;
        if gig.is_listed() || gig.client == caller.account.id {
            return Ok(gig);
        }
        if let Some(agent) = caller.only_agent {
            let proposals = self.deps.store.proposals_of_gig(id).await?;
            if proposals.iter().any(|p| p.agent_id == agent && p.status == ProposalStatus::Accepted) {
                return Ok(gig);
            }
        }
        Err(ServiceError::NotFound("Gig"))
    }

    /// The caller's own gigs, newest first.
    pub async fn client_gigs(
        &self,
        caller: &Caller,
        status: Option<GigStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<Gig>, ServiceError> {
        Ok(self.deps.store.client_gigs(caller.account.id, status, limit, offset).await?)
    }

    /// Cancels an open gig of the caller's; a gig past `open` (it has a contract) is a conflict.
    pub async fn cancel(&self, caller: &Caller, id: GigId) -> Result<Gig, ServiceError> {
        let gig = self.deps.store.gig(id).await?.filter(|g| g.client == caller.account.id);
        let gig = gig.ok_or(ServiceError::NotFound("Gig"))?;
        gig_transition(gig.status, GigEvent::Cancel)
            .map_err(|e| ServiceError::Conflict(capitalised(&e.to_string())))?;
        match self.deps.store.cancel_gig(id, talon_domain::time::now()).await? {
            Some(cancelled) => Ok(cancelled),
            // A proposal was accepted in between.
            None => Err(ServiceError::Conflict("The gig is no longer open: it has a contract".into())),
        }
    }

    /// One page of a search by `walker` (the caller's credential). Pages are offsets, and under
    /// `newest` a gig posted between two pages would sort first and shift the next page by one (a
    /// repeat). So the first page (offset 0) pins a snapshot, the newest possible id at that moment,
    /// and the later pages of the same search by the same caller show only gigs up to it. Snapshots
    /// live in this process: on several replicas, a page served by another one goes without.
    ///
    /// Counting every match costs far more than reading one page, so a total is kept with the listing
    /// version it was counted at, and reused while the version stays (any change to a listed field of
    /// any gig moves it, on every replica).
    pub async fn search(&self, walker: &str, mut query: SearchQuery) -> Result<Page<Gig>, ServiceError> {
        let walk = query.walk_key();
        let first_page = query.offset == 0;
        let up_to = self.snapshot(format!("{walker}|{walk}"), first_page);
        // The first page shows everything there is; its snapshot holds for the pages after it.
        query.up_to = if first_page { None } else { up_to };
        let count_key = format!("{walk}|{:?}", query.up_to);
        let version = self.deps.store.gig_listing_version().await?;
        let known = lock(&self.counts).get(&count_key).filter(|(v, _)| *v == version).map(|(_, total)| *total);
        let page = self.deps.store.search_gigs(&query, known).await?;
        if known.is_none() {
            let mut counts = lock(&self.counts);
            if counts.len() >= MAX_WALKS {
                counts.clear();
            }
            counts.insert(count_key, (version, page.total));
        }
        Ok(page)
    }

    fn snapshot(&self, key: String, first_page: bool) -> Option<GigId> {
        let now = Instant::now();
        let mut walks = lock(&self.walks);
        if first_page {
            if walks.len() >= MAX_WALKS {
                walks.retain(|_, (_, at)| now.duration_since(*at) < WALK_TTL);
                if walks.len() >= MAX_WALKS {
                    walks.clear();
                }
            }
            // Ids are UUIDv7: every gig posted from now on has a greater id.
            let up_to = GigId::new();
            walks.insert(key, (up_to, now));
            return Some(up_to);
        }
        walks.get(&key).filter(|(_, at)| now.duration_since(*at) < WALK_TTL).map(|(up_to, _)| *up_to)
    }

    /// A new service offered by `agent`.
    pub async fn offer_service(&self, agent: AgentId, draft: ServiceDraft) -> Result<ListedService, ServiceError> {
        let service = AgentService::offer(agent, draft, talon_domain::time::now())?;
        self.deps.store.insert_service(&service).await?;
        self.deps.store.service(service.id).await?.ok_or(ServiceError::NotFound("Service"))
    }

    pub async fn service(&self, id: ServiceId) -> Result<ListedService, ServiceError> {
        self.deps.store.service(id).await?.ok_or(ServiceError::NotFound("Service"))
    }

    pub async fn services(&self, filter: &ServiceFilter) -> Result<Page<ListedService>, ServiceError> {
        Ok(self.deps.store.list_services(filter).await?)
    }

    /// Removes one of `agent`'s services.
    pub async fn withdraw_service(&self, agent: AgentId, id: ServiceId) -> Result<(), ServiceError> {
        if self.deps.store.delete_service(agent, id).await? { Ok(()) } else { Err(ServiceError::NotFound("Service")) }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
