//! `POST /api/v1/upload` (multipart: `file` and `bucket`) and `GET /api/v1/files/{upload_id}/{name}`.
//! The upload route is mounted apart from the other routes (`upload_routes`) because it has a body
//! limit of its own, the largest file allowed plus room for the multipart framing.

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use talon_domain::marketplace::Upload;
use talon_domain::{Scope, UploadId, ValidationErrors};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{Data, created};
use crate::api::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::auth::Principal;
use crate::services::marketplace::uploads::{FileMeta, IncomingFile, ReceiveError};
use crate::state::AppState;

/// What a multipart body may add to the file it carries (boundaries, part headers, the bucket).
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// Serving files back, with the other marketplace routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(download))
}

/// The upload itself, under its own body limit (see `api::router`).
pub fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload))
}

/// The form `POST /upload` takes.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the multipart parts; read field by field
#[schema(example = json!({"file": "(the file's bytes, with a filename)", "bucket": "attachments"}))]
pub struct UploadForm {
    /// The file, with its name (`filename` in the part's Content-Disposition).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// A label to group files by: 1 to 40 of a-z, 0-9 and -.
    #[schema(pattern = "^[a-z0-9-]{1,40}$")]
    bucket: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"url": "https://talon.example.com/api/v1/files/upl_019ad3b2c4e07b1a8f3e6d2c1b0a9f8e/report.pdf",
    "path": "attachments/upl_019ad3b2c4e07b1a8f3e6d2c1b0a9f8e/report.pdf"}))]
pub struct UploadView {
    /// Where the file is served (to the uploading account).
    url: String,
    /// `<bucket>/<upload id>/<file name>`.
    path: String,
}

fn multipart_error(error: &MultipartError) -> ApiError {
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(inner) = cause {
        if inner.is::<http_body_util::LengthLimitError>() {
            return ApiError::new(ErrorCode::PayloadTooLarge, "Request body is too large");
        }
        cause = inner.source();
    }
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorCode::PayloadTooLarge, "Request body is too large");
    }
    ApiError::new(ErrorCode::BadRequest, format!("The multipart body could not be read: {}", error.body_text()))
}

fn receive_error(error: ReceiveError) -> ApiError {
    match error {
        ReceiveError::TooLarge { .. } => ApiError::new(ErrorCode::PayloadTooLarge, error.to_string()),
        ReceiveError::Io(e) => ApiError::internal(e),
    }
}

/// Upload a file (multipart/form-data with `file` and `bucket`). Files are kept in the server's
/// uploads directory and served back at `url` to the uploading account.
#[utoipa::path(post, path = "/api/v1/upload", operation_id = "uploadFile", tag = "marketplace",
    security(("bearer" = ["marketplace:write"])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Data<UploadView>, example = json!({"data": {
            "url": "https://talon.example.com/api/v1/files/upl_019ad3b2c4e07b1a8f3e6d2c1b0a9f8e/report.pdf",
            "path": "attachments/upl_019ad3b2c4e07b1a8f3e6d2c1b0a9f8e/report.pdf"}})),
        (status = 400, body = ErrorEnvelope, description = "Not multipart, or a missing `file` part, or a bad `bucket`"),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing marketplace:write"),
        (status = 413, body = ErrorEnvelope, description = "The file is over the size limit")))]
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Data<UploadView>>), ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceWrite)?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(ErrorCode::BadRequest, format!("Expected a multipart/form-data body: {}", e.body_text()))
    })?;
    let uploads = &state.marketplace.uploads;
    let mut file: Option<(IncomingFile, FileMeta)> = None;
    let mut bucket: Option<String> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| multipart_error(&e))? {
        match field.name() {
            Some("file") if file.is_none() => {
                let meta = FileMeta {
                    file_name: field.file_name().map(str::to_owned),
                    part_type: field.content_type().map(str::to_owned),
                };
                let mut incoming = uploads.begin().await.map_err(receive_error)?;
                while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
                    incoming.write(&chunk).await.map_err(receive_error)?;
                }
                file = Some((incoming, meta));
            }
            Some("bucket") if bucket.is_none() => bucket = Some(field.text().await.map_err(|e| multipart_error(&e))?),
            // Other parts are skipped, as unknown query parameters are.
            _ => {}
        }
    }
    let mut errors = ValidationErrors::new();
    if file.is_none() {
        errors.add("file", "Required: a `file` part with the file's bytes");
    }
    if bucket.is_none() {
        errors.add("bucket", "Required: a `bucket` part");
    }
    let (Some((incoming, meta)), Some(bucket)) = (file, bucket) else { return Err(ApiError::validation(errors)) };
    let upload = uploads.finish(&caller, incoming, &bucket, meta).await?;
    Ok(created(view(&state, &upload)))
}

fn view(state: &AppState, upload: &Upload) -> UploadView {
    UploadView {
        url: state.marketplace.uploads.url_of(upload),
        path: format!("{}/{}/{}", upload.bucket, upload.id, upload.file_name),
    }
}

/// A file's bytes, as an attachment, to the account that uploaded it; anyone else gets 404.
#[utoipa::path(get, path = "/api/v1/files/{upload_id}/{name}", operation_id = "downloadFile", tag = "marketplace",
    security(("bearer" = ["marketplace:read"])),
    params(("upload_id" = String, Path, description = "`upl_…` or the bare UUID", example = "upl_019ad3b2c4e07b1a8f3e6d2c1b0a9f8e"),
        ("name" = String, Path, description = "The file's name, as in its url", example = "report.pdf")),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = String),
        (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope, description = "Missing marketplace:read"),
        (status = 404, body = ErrorEnvelope, description = "No such file, or not yours")))]
pub async fn download(
    State(state): State<AppState>,
    principal: Principal,
    Path((upload_id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = principal.with_scope(Scope::MarketplaceRead)?;
    let id = UploadId::parse(&upload_id).map_err(|_| ApiError::not_found("File"))?;
    let (upload, bytes) = state.marketplace.uploads.read(&caller, id, &name).await?;
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    let content_type =
        HeaderValue::from_str(&upload.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(CONTENT_TYPE, content_type);
    if let Ok(disposition) = HeaderValue::from_str(&content_disposition(&upload.file_name)) {
        headers.insert(CONTENT_DISPOSITION, disposition);
    }
    headers.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}

/// `attachment` with the name twice: plain ASCII for old clients, and RFC 5987's UTF-8 form.
fn content_disposition(file_name: &str) -> String {
    let ascii: String = file_name.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).collect();
    let encoded = percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn dispositions_carry_both_name_forms() {
        assert_eq!(
            content_disposition("résumé v2.pdf"),
            "attachment; filename=\"r_sum_ v2.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20v2%2Epdf"
        );
    }
}
