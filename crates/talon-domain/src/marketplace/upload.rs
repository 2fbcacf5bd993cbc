//! Files uploaded to the marketplace (`POST /api/v1/upload`): what is kept about each, and the rules on
//! the two things a caller names, the bucket and the file name.

use chrono::{DateTime, Utc};

use crate::id::{AgentId, UploadId, UserId};
use crate::validation::ValidationErrors;

const BUCKET_MAX_CHARS: usize = 40;
const FILE_NAME_MAX_CHARS: usize = 200;

/// One uploaded file. The bytes live under `storage_key` (a path under the uploads directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: UploadId,
    /// The uploading account: it may always read the file back.
    pub owner: UserId,
    /// The agent whose key uploaded it, if an agent's key did.
    pub agent: Option<AgentId>,
    pub bucket: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub storage_key: String,
    pub created_at: DateTime<Utc>,
}

/// A bucket is a label the caller groups files by: 1 to 40 of `a-z`, `0-9` and `-`.
pub fn validate_bucket(bucket: &str, errors: &mut ValidationErrors) {
    let fits = (1..=BUCKET_MAX_CHARS).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !fits {
        errors.add("bucket", "Must be 1 to 40 characters of a-z, 0-9 and -");
    }
}

/// The name a file is kept and served under: the last path segment of what the client sent (browsers
/// and SDKs may send a full path), without control characters, quotes or separators, at most 200
/// characters; `file` when nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String =
        last.chars().filter(|c| !c.is_control() && !matches!(c, '"' | ';' | '%')).take(FILE_NAME_MAX_CHARS).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() { "file".to_owned() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_short_lowercase_labels() {
        for good in ["attachments", "a", "contract-files-2"] {
            let mut errors = ValidationErrors::new();
            validate_bucket(good, &mut errors);
            assert!(errors.fields().is_empty(), "{good}");
        }
        for bad in ["", "Attachments", "a/b", "../x", "x".repeat(41).as_str(), "é"] {
            let mut errors = ValidationErrors::new();
            validate_bucket(bad, &mut errors);
            assert_eq!(errors.fields().len(), 1, "{bad}");
        }
    }

    #[test]
    fn file_names_lose_paths_and_unsafe_characters() {
        assert_eq!(clean_file_name("report.pdf"), "report.pdf");
        assert_eq!(clean_file_name("C:\\Users\\me\\notes.txt"), "notes.txt");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("a\"b;c%d\ne.txt"), "abcde.txt");
        assert_eq!(clean_file_name("..."), "file");
        assert_eq!(clean_file_name(""), "file");
        assert_eq!(clean_file_name(&"x".repeat(500)).len(), 200);
        assert_eq!(clean_file_name("résumé.md"), "résumé.md");
    }
}
