//! The `uploads` row and its conversion into `Upload`.

use chrono::{DateTime, Utc};
use talon_domain::marketplace::Upload;
use talon_domain::{AgentId, UploadId, UserId};
use uuid::Uuid;

use crate::db::Bind;

#[derive(sqlx::FromRow)]
pub(crate) struct UploadRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub bucket: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub storage_key: String,
    pub created_at: DateTime<Utc>,
}

pub(crate) const UPLOAD_COLUMNS: &str =
    "id, user_id, agent_id, bucket, file_name, content_type, size_bytes, storage_key, created_at";

impl From<UploadRow> for Upload {
    fn from(row: UploadRow) -> Self {
        Upload {
            id: UploadId::from_uuid(row.id),
            owner: UserId::from_uuid(row.user_id),
            agent: row.agent_id.map(AgentId::from_uuid),
            bucket: row.bucket,
            file_name: row.file_name,
            content_type: row.content_type,
            size_bytes: row.size_bytes,
            storage_key: row.storage_key,
            created_at: row.created_at,
        }
    }
}

/// Binds an `Upload` in `UPLOAD_COLUMNS` order.
pub(crate) fn bind_upload<'q, Q: Bind<'q>>(query: Q, upload: &Upload) -> Q {
    query
        .bind(*upload.id.as_uuid())
        .bind(*upload.owner.as_uuid())
        .bind(upload.agent.map(|agent| *agent.as_uuid()))
        .bind(upload.bucket.clone())
        .bind(upload.file_name.clone())
        .bind(upload.content_type.clone())
        .bind(upload.size_bytes)
        .bind(upload.storage_key.clone())
        .bind(upload.created_at)
}
