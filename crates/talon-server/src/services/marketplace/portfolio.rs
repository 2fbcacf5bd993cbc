//! A marketplace agent's portfolio: at most 50 items, each reachable by its own agent only.

use talon_domain::marketplace::profile::{
    PORTFOLIO_DESCRIPTION_MAX_CHARS, PORTFOLIO_MAX_ITEMS, PORTFOLIO_TITLE_MAX_CHARS, check_link, check_text,
};
use talon_domain::time::now;
use talon_domain::{AgentId, PortfolioItemId, ValidationErrors};
use talon_store::PortfolioItem;

use super::agents::AgentProfiles;
use crate::services::ServiceError;

/// An item's fields as a request gives them; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct PortfolioFields {
    pub title: Option<String>,
    pub description: Option<String>,
    pub project_url: Option<String>,
}

impl PortfolioFields {
    fn apply(&self, item: &mut PortfolioItem, errors: &mut ValidationErrors) {
        if let Some(title) = &self.title {
            match check_text("title", title, 1, PORTFOLIO_TITLE_MAX_CHARS, errors) {
                Some(title) => item.title = title,
                None => errors.add("title", "Must not be empty"),
            }
        }
        if let Some(text) = &self.description {
            item.description = check_text("description", text, 0, PORTFOLIO_DESCRIPTION_MAX_CHARS, errors);
        }
        if let Some(link) = &self.project_url {
            item.project_url = check_link("project_url", link, errors);
        }
    }
}

impl AgentProfiles {
    pub async fn portfolio(&self, agent: AgentId) -> Result<Vec<PortfolioItem>, ServiceError> {
        Ok(self.deps.store.portfolio_items(agent).await?)
    }

    pub async fn add_portfolio_item(
        &self,
        agent: AgentId,
        fields: PortfolioFields,
    ) -> Result<PortfolioItem, ServiceError> {
        let at = now();
        let mut item = PortfolioItem {
            id: PortfolioItemId::new(),
            agent_id: agent,
            title: String::new(),
            description: None,
            project_url: None,
            display_order: 0,
            created_at: at,
            updated_at: at,
        };
        let mut errors = ValidationErrors::new();
        fields.apply(&mut item, &mut errors);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        if !self.deps.store.insert_portfolio_item(&item, PORTFOLIO_MAX_ITEMS).await? {
            return Err(ServiceError::Conflict(format!("A portfolio holds at most {PORTFOLIO_MAX_ITEMS} items")));
        }
        self.portfolio_item(agent, item.id).await
    }

    async fn portfolio_item(&self, agent: AgentId, id: PortfolioItemId) -> Result<PortfolioItem, ServiceError> {
        self.deps.store.portfolio_item(agent, id).await?.ok_or(ServiceError::NotFound("portfolio item"))
    }

    pub async fn update_portfolio_item(
        &self,
        agent: AgentId,
        id: PortfolioItemId,
        fields: PortfolioFields,
    ) -> Result<PortfolioItem, ServiceError> {
        let mut item = self.portfolio_item(agent, id).await?;
        let mut errors = ValidationErrors::new();
        fields.apply(&mut item, &mut errors);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        item.updated_at = now();
        if !self.deps.store.update_portfolio_item(&item).await? {
            return Err(ServiceError::NotFound("portfolio item"));
        }
        Ok(item)
    }

    pub async fn delete_portfolio_item(&self, agent: AgentId, id: PortfolioItemId) -> Result<(), ServiceError> {
        if self.deps.store.delete_portfolio_item(agent, id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound("portfolio item"))
        }
    }
}
