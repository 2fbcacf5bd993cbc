//! Files uploaded to the marketplace: the bytes under the uploads directory (the directory 0700, each
//! file 0600, named by its upload id, never by what the client sent), their metadata in `uploads`, and
//! who may read them back (`may_read`). An S3-compatible bucket is not supported yet.

use std::path::PathBuf;

use talon_domain::marketplace::{Upload, clean_file_name, validate_bucket};
use talon_domain::time::now;
use talon_domain::{UploadId, ValidationErrors};
use tokio::io::AsyncWriteExt;

use super::MarketplaceDeps;
use crate::services::{Caller, ServiceError};

/// Why a file part could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("The file is larger than the {limit} bytes allowed")]
    TooLarge { limit: usize },
    #[error("the upload could not be written: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ReceiveError> for ServiceError {
    fn from(err: ReceiveError) -> Self {
        ServiceError::Internal(err.to_string())
    }
}

/// A file being received: written to `<id>.part` as it arrives, within the size limit, and removed
/// unless `Uploads::finish` keeps it (so a refused or broken upload leaves nothing behind).
pub struct IncomingFile {
    id: UploadId,
    part: PathBuf,
    file: Option<tokio::fs::File>,
    size: usize,
    limit: usize,
    kept: bool,
}

impl IncomingFile {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), ReceiveError> {
        self.size = self.size.saturating_add(chunk.len());
        if self.size > self.limit {
            return Err(ReceiveError::TooLarge { limit: self.limit });
        }
        match self.file.as_mut() {
            Some(file) => Ok(file.write_all(chunk).await?),
            None => Err(ReceiveError::Io(std::io::Error::other("the upload was already closed"))),
        }
    }
}

impl Drop for IncomingFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// What the uploader named: the file's name and the type its part declared.
pub struct FileMeta {
    pub file_name: Option<String>,
    pub part_type: Option<String>,
}

pub struct Uploads {
    deps: MarketplaceDeps,
}

impl Uploads {
    pub fn new(deps: MarketplaceDeps) -> Self {
        Self { deps }
    }

    fn dir(&self) -> PathBuf {
        self.deps.settings.uploads_dir.clone()
    }

    /// Opens a new file to receive bytes into (creating the uploads directory, 0700, if need be).
    pub async fn begin(&self) -> Result<IncomingFile, ReceiveError> {
        let dir = self.dir();
        let mut builder = tokio::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder.create(&dir).await?;
        let id = UploadId::new();
        let part = dir.join(format!("{id}.part"));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&part).await?;
        Ok(IncomingFile {
            id,
            part,
            file: Some(file),
            size: 0,
            limit: self.deps.settings.max_upload_bytes,
            kept: false,
        })
    }

    /// Keeps a received file in `bucket`: checks the bucket, names the file, records its metadata.
    pub async fn finish(
        &self,
        caller: &Caller,
        mut incoming: IncomingFile,
        bucket: &str,
        meta: FileMeta,
    ) -> Result<Upload, ServiceError> {
        let mut errors = ValidationErrors::new();
        validate_bucket(bucket, &mut errors);
        errors.finish(())?;
        if let Some(mut file) = incoming.file.take() {
            file.flush().await.map_err(ReceiveError::from)?;
            file.sync_all().await.map_err(ReceiveError::from)?;
        }
        let file_name = clean_file_name(meta.file_name.as_deref().unwrap_or_default());
        let storage_key = incoming.id.to_string();
        tokio::fs::rename(&incoming.part, self.dir().join(&storage_key)).await.map_err(ReceiveError::from)?;
        incoming.kept = true;
        let upload = Upload {
            id: incoming.id,
            owner: caller.account.id,
            agent: caller.only_agent,
            bucket: bucket.to_owned(),
            content_type: content_type(&file_name, meta.part_type.as_deref()),
            file_name,
            size_bytes: i64::try_from(incoming.size).unwrap_or(i64::MAX),
            storage_key,
            created_at: now(),
        };
        if let Err(e) = self.deps.store.insert_upload(&upload).await {
            let _ = tokio::fs::remove_file(self.dir().join(&upload.storage_key)).await;
            return Err(e.into());
        }
        Ok(upload)
    }

    /// The link the file is served at.
    pub fn url_of(&self, upload: &Upload) -> String {
        let name = percent_encoding::utf8_percent_encode(&upload.file_name, percent_encoding::NON_ALPHANUMERIC);
        format!("{}/api/v1/files/{}/{name}", self.deps.settings.public_url.trim_end_matches('/'), upload.id)
    }

    /// The one rule on who reads a file: the account that uploaded it. (Contracts will add their
    /// parties, for files referenced by a message or a delivery of the contract.)
    pub async fn may_read(&self, caller: &Caller, upload: &Upload) -> Result<bool, ServiceError> {
        Ok(upload.owner == caller.account.id)
    }

    /// The file `id` named `name`, with its bytes, if the caller may read it; anything else is "not
    /// found", so nobody learns which files exist.
    pub async fn read(&self, caller: &Caller, id: UploadId, name: &str) -> Result<(Upload, Vec<u8>), ServiceError> {
        let upload =
            self.deps.store.upload(id).await?.filter(|u| u.file_name == name).ok_or(ServiceError::NotFound("File"))?;
        if !self.may_read(caller, &upload).await? {
            return Err(ServiceError::NotFound("File"));
        }
        // Storage keys are upload ids, written by `finish`: never a path the client chose.
        let bytes = tokio::fs::read(self.dir().join(&upload.storage_key)).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ServiceError::NotFound("File"),
            _ => ServiceError::Internal(format!("an upload could not be read: {e}")),
        })?;
        Ok((upload, bytes))
    }
}

/// The type a file is served with: from its name's extension, else the type its part declared (when
/// it is a well-formed media type), else `application/octet-stream`.
fn content_type(file_name: &str, part_type: Option<&str>) -> String {
    if let Some(guess) = mime_guess::from_path(file_name).first_raw() {
        return guess.to_owned();
    }
    match part_type.map(str::trim).and_then(|t| t.parse::<mime_guess::mime::Mime>().ok()) {
        Some(declared) => declared.essence_str().to_owned(),
        None => "application/octet-stream".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn content_types_come_from_the_name_then_the_part() {
        assert_eq!(content_type("report.pdf", Some("text/plain")), "application/pdf");
        assert_eq!(content_type("notes", Some("text/markdown; charset=utf-8")), "text/markdown");
        assert_eq!(content_type("notes", Some("not a type")), "application/octet-stream");
        assert_eq!(content_type("blob", None), "application/octet-stream");
    }
}
