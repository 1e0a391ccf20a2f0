//! `POST /admin/ingest`: add or replace documents while the server answers. Either JSON naming
//! files or folders on the server's machine, or a multipart upload of files (kept under
//! `<data_dir>/uploads/<domain>/`). Needs an administrator's key.

use std::path::PathBuf;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhiku_engine::{Caller, IngestOptions, IngestReport, IngestSlot};

use crate::auth::Admin;
use crate::error::{parse_json, read_body, ApiError};
use crate::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestBody {
    /// Files or folders on the server's machine.
    pub paths: Vec<String>,
    /// Put everything in this domain instead of choosing by folder name.
    pub domain: Option<String>,
    /// Remove indexed documents whose files are gone from these paths.
    #[serde(default)]
    pub prune: bool,
    /// Let `prune` remove more than `ingest.prune_max_share` of the documents.
    #[serde(default)]
    pub yes: bool,
}

#[derive(Serialize, ToSchema)]
pub struct IngestSummary {
    files: usize,
    documents: usize,
    unchanged: usize,
    written: usize,
    removed: usize,
    chunks_written: usize,
    /// Files or records that could not be ingested (the rest was), with file and line.
    problems: Vec<String>,
    notices: Vec<String>,
    seconds: f64,
}

impl From<&IngestReport> for IngestSummary {
    fn from(r: &IngestReport) -> Self {
        Self {
            files: r.files,
            documents: r.documents,
            unchanged: r.unchanged,
            written: r.written,
            removed: r.removed,
            chunks_written: r.chunks_written,
            problems: r.issues.iter().map(|i| i.to_string()).collect(),
            notices: r.notices.clone(),
            seconds: r.total_s,
        }
    }
}

/// Ingests server-side paths (JSON) or uploaded files (multipart: `file` parts, optional
/// `domain` part). Searches go on meanwhile and see the documents as they commit.
#[utoipa::path(post, path = "/admin/ingest", tag = "admin", request_body(content = IngestBody,
    description = "JSON, or multipart/form-data with file parts"), responses(
    (status = 200, body = IngestSummary), (status = 401, body = crate::ErrorBody),
    (status = 403, body = crate::ErrorBody), (status = 409, body = crate::ErrorBody),
    (status = 413, body = crate::ErrorBody), (status = 507, body = crate::ErrorBody)),
    security(("bearer" = [])))]
pub async fn ingest(
    State(state): State<AppState>,
    Admin(caller): Admin,
    req: Request,
) -> Result<Json<IngestSummary>, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (paths, opts, slot) = if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
        // The slot first: an upload refused as busy (or for anything else) overwrites nothing.
        save_uploads(&state, &caller, multipart).await?
    } else if content_type.starts_with("application/json") {
        let bytes = read_body(
            req.into_body(),
            state.limits.max_body_bytes,
            state.limits.body_timeout,
        )
        .await?;
        let body: IngestBody = parse_json(&bytes)?;
        if body.paths.is_empty() {
            return Err(ApiError::bad_request("no_paths", "name at least one path"));
        }
        if let Some(d) = &body.domain {
            known_domain(&state, d)?;
        }
        let paths: Vec<PathBuf> = body.paths.into_iter().map(PathBuf::from).collect();
        for p in &paths {
            if !p.exists() {
                return Err(ApiError::bad_request(
                    "no_such_path",
                    format!("{} does not exist on the server", p.display()),
                ));
            }
        }
        let opts = IngestOptions {
            prune: body.prune,
            yes: body.yes,
            domain: body.domain,
            ..IngestOptions::default()
        };
        let slot = state
            .engine
            .begin_ingest(&caller, &zhiku_engine::paths_text(&paths))
            .await?;
        (paths, opts, slot)
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON ({\"paths\": [...]}) or multipart/form-data files",
        ));
    };
    // The ingest embeds on its own thread, so that answers keep the runtime's workers.
    let engine = state.engine.clone();
    let handle = tokio::runtime::Handle::current();
    let report = tokio::task::spawn_blocking(move || {
        handle.block_on(async { engine.ingest_in(slot, &caller, &paths, &opts).await })
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("ingest stopped: {e}"),
        )
    })??;
    let m = &state.metrics.ingest_documents;
    m.with_label_values(&["written"])
        .inc_by(report.written as u64);
    m.with_label_values(&["unchanged"])
        .inc_by(report.unchanged as u64);
    m.with_label_values(&["removed"])
        .inc_by(report.removed as u64);
    m.with_label_values(&["problem"])
        .inc_by(report.issues.len() as u64);
    Ok(Json(IngestSummary::from(&report)))
}

/// Keeps each uploaded file under `uploads/<domain>/` (a file of the same name is replaced,
/// and so is its document), once the ingest slot is taken: an upload refused for any reason
/// (busy, no room, a bad name) writes nothing.
async fn save_uploads(
    state: &AppState,
    caller: &Caller,
    mut multipart: Multipart,
) -> Result<(Vec<PathBuf>, IngestOptions, IngestSlot), ApiError> {
    let mut files: Vec<(String, axum::body::Bytes)> = Vec::new();
    let mut domain: Option<String> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::new(e.status(), "invalid_multipart", e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::new(e.status(), "invalid_multipart", e.body_text()))?;
        match (name.as_str(), file_name) {
            ("domain", None) => domain = Some(String::from_utf8_lossy(&bytes).trim().to_string()),
            (_, Some(f)) => files.push((safe_name(&f)?, bytes)),
            (other, None) => {
                return Err(ApiError::bad_request(
                    "invalid_multipart",
                    format!("unexpected form field {other:?} (file parts and domain)"),
                ))
            }
        }
    }
    if files.is_empty() {
        return Err(ApiError::bad_request(
            "no_files",
            "the upload holds no file",
        ));
    }
    if let Some(d) = &domain {
        known_domain(state, d)?;
    }
    // Uploads are kept in the data directory: not on a disk an ingest would then refuse.
    state.engine.ensure_room()?;
    let dir = state
        .engine
        .data_dir()
        .join("uploads")
        .join(domain.as_deref().unwrap_or("general"));
    let names: Vec<String> = files
        .iter()
        .map(|(name, _)| dir.join(name).display().to_string())
        .collect();
    let slot = state
        .engine
        .begin_ingest(caller, &format!("upload of {}", names.join(", ")))
        .await?;
    let paths = match write_uploads(&dir, files) {
        Ok(paths) => paths,
        Err(e) => {
            let refusal = io_error(e);
            state
                .engine
                .abandon_ingest(slot, caller, refusal.code)
                .await?;
            return Err(refusal);
        }
    };
    let opts = IngestOptions {
        domain,
        ..IngestOptions::default()
    };
    Ok((paths, opts, slot))
}

/// Writes each file into `dir`: beside its name first, then renamed, so a reader never sees
/// half a file.
fn write_uploads(
    dir: &std::path::Path,
    files: Vec<(String, axum::body::Bytes)>,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(&name);
        let partial = dir.join(format!(".{name}.partial"));
        if let Err(e) = std::fs::write(&partial, &bytes) {
            // What was written of it would only take the room that ran out.
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, &path)?;
        paths.push(path);
    }
    Ok(paths)
}

/// A domain the registry knows, by its exact name (`Medicine` is refused, not guessed).
fn known_domain(state: &AppState, domain: &str) -> Result<(), ApiError> {
    state
        .engine
        .registry()
        .get(domain)
        .map(|_| ())
        .map_err(|e| ApiError::from(zhiku_engine::EngineError::from(e)))
}

/// The longest upload name kept, in bytes: a file system's limit is 255, and the partial file
/// written first adds a dot and `.partial`.
const MAX_FILE_NAME_BYTES: usize = 200;

/// The file name alone: no folders, no `..`, nothing hidden.
fn safe_name(name: &str) -> Result<String, ApiError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if base.len() > MAX_FILE_NAME_BYTES {
        return Err(ApiError::bad_request(
            "invalid_file_name",
            format!(
                "file names may have {MAX_FILE_NAME_BYTES} bytes; this one has {}",
                base.len()
            ),
        ));
    }
    if base.is_empty() || base.starts_with('.') || base.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_file_name",
            format!("{name:?} is not a usable file name"),
        ));
    }
    Ok(base.to_string())
}

/// 507, with the codes an ingest refused for the same reason gets.
fn io_error(e: std::io::Error) -> ApiError {
    let code = match e.kind() {
        std::io::ErrorKind::StorageFull => "disk_full",
        std::io::ErrorKind::ReadOnlyFilesystem => "read_only",
        _ => "storage",
    };
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        code,
        format!("saving the upload: {e}; nothing was ingested"),
    )
}
