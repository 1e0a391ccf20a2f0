//! A CDS Hooks 2.0 service, so that an EMR shows guideline cards in the clinician's workflow:
//! `order-select` (the recommendations on a drug being ordered, for the patient's conditions
//! and findings) and `patient-view` (the key recommendations for the patient's active
//! conditions). Cards come only from recommendations that name the drug or the condition; when
//! none does, the answer is no card.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use zhiku_engine::cds::{self, PatientContext, Subject};
use zhiku_engine::{Caller, Channel, Chunk, RetrievalMode};

use super::api::narrowing;
use crate::audit_layer::AuditFacts;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::AppState;

const ORDER_SELECT: &str = "zhiku-order-select";
const PATIENT_VIEW: &str = "zhiku-patient-view";
const MAX_CARDS: usize = 3;

/// The discovery document.
#[utoipa::path(get, path = "/cds-services", tag = "cds-hooks",
    responses((status = 200, description = "CDS Hooks discovery", body = Object)))]
pub async fn discovery() -> Json<Value> {
    let conditions = "Condition?patient={{context.patientId}}&clinical-status=active";
    Json(json!({"services": [
        {
            "hook": "order-select",
            "id": ORDER_SELECT,
            "title": "Guideline recommendations for the drug being ordered",
            "description": "Recommendations on the selected medication from the hospital's \
                clinical guidelines, for the patient's active conditions and recent eGFR, \
                with their strength, evidence level and the cited passage.",
            "prefetch": {
                "conditions": conditions,
                "egfr": "Observation?patient={{context.patientId}}&code=http://loinc.org|33914-3,http://loinc.org|62238-1,http://loinc.org|98979-8&_sort=-date&_count=1",
            },
        },
        {
            "hook": "patient-view",
            "id": PATIENT_VIEW,
            "title": "Key guideline recommendations for the patient's conditions",
            "description": "The strongest recommendations of the hospital's guidelines for each \
                of the patient's active conditions.",
            "prefetch": {"conditions": conditions},
        },
    ]}))
}

/// A CDS Hooks request (the fields this service reads; others are accepted and ignored, as
/// the specification asks of services).
#[derive(Debug, Deserialize)]
pub struct HookRequest {
    pub hook: String,
    #[serde(rename = "hookInstance")]
    pub hook_instance: String,
    #[serde(default)]
    pub context: Value,
    #[serde(default)]
    pub prefetch: Value,
}

/// Calls a service; the client proves itself with its signed JWT.
#[utoipa::path(post, path = "/cds-services/{id}", tag = "cds-hooks",
    params(("id" = String, Path, description = "zhiku-order-select or zhiku-patient-view")),
    responses((status = 200, description = "CDS Hooks cards", body = Object),
    (status = 401, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub async fn call(
    State(state): State<AppState>,
    Extension(facts): Extension<AuditFacts>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<HookRequest>,
) -> Result<Json<Value>, ApiError> {
    let (hook, want) = match id.as_str() {
        ORDER_SELECT => ("order-select", ORDER_SELECT),
        PATIENT_VIEW => ("patient-view", PATIENT_VIEW),
        _ => {
            return Err(ApiError::not_found(
                "unknown_service",
                format!("no CDS service {id:?}: see GET /cds-services"),
            ))
        }
    };
    let base = base_url(&state, &headers);
    let audience = vec![
        format!("{base}/cds-services/{want}"),
        format!("{base}/cds-services"),
    ];
    let client = crate::cds_auth::authenticate(&state, &headers, &audience).await?;
    facts.set_agent(zhiku_engine::AuditAgent {
        kind: "cds-client".into(),
        id: Some(client.iss.clone()),
        name: Some(client.iss.clone()),
        address: None,
    });
    if request.hook != hook || request.hook_instance.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_hook_request",
            format!("this service answers the {hook} hook, with a hookInstance"),
        ));
    }
    let clearance = client.clearance;
    let caller = Caller::authenticated(
        format!("cds:{}", client.iss),
        Channel::Clinical,
        clearance,
        Some(vec!["medicine".into()]),
        false,
    );
    let conditions = conditions(&request.prefetch);
    let mut cards = Vec::new();
    let mut cited: Vec<Chunk> = Vec::new();
    // Every search this call runs, for the audit record's one question hash.
    let mut queries: Vec<String> = Vec::new();
    if hook == "order-select" {
        let findings = findings(&request.prefetch);
        let patient = PatientContext {
            conditions: &conditions,
            findings: &findings
                .iter()
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>(),
        };
        let values: Vec<&str> = findings.iter().map(|(_, v)| v.as_str()).collect();
        for drug in drugs(&request.context) {
            let query = format!("{drug} {} {}", conditions.join(" "), values.join(" "));
            let found =
                recommendations(&state, &caller, &query, Subject::Drug(&drug), patient).await?;
            cards.extend(found.iter().map(|c| card(c, &drug, &base)));
            cited.extend(found);
            queries.push(query);
        }
    } else {
        for condition in &conditions {
            let found = recommendations(
                &state,
                &caller,
                condition,
                Subject::Condition(condition),
                PatientContext::default(),
            )
            .await?;
            cards.extend(found.iter().take(2).map(|c| card(c, condition, &base)));
            cited.extend(found.into_iter().take(2));
            queries.push(condition.clone());
        }
    }
    let asked = state.engine.redact(&queries.join("\n"));
    facts.set_question(&asked.text, asked.total());
    facts.set_documents(cited.iter().map(|c| (c.doc_id.as_str(), c.title.as_str())));
    Ok(Json(json!({ "cards": cards })))
}

/// `clinical.public_url`, else the address the request was sent to.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let configured = state.engine.config().clinical.public_url.trim();
    if !configured.is_empty() {
        return configured.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if state.engine.config().server.tls.enabled() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A FHIR CodeableConcept's words: its text, else its codings' displays.
fn concept_text(concept: &Value) -> Option<String> {
    concept["text"]
        .as_str()
        .or_else(|| {
            concept["coding"]
                .as_array()?
                .iter()
                .find_map(|c| c["display"].as_str())
        })
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The resources of a FHIR Bundle (or the one resource a prefetch holds).
fn resources(value: &Value) -> Vec<&Value> {
    match value["resourceType"].as_str() {
        Some("Bundle") => value["entry"]
            .as_array()
            .map(|es| es.iter().map(|e| &e["resource"]).collect())
            .unwrap_or_default(),
        Some(_) => vec![value],
        None => Vec::new(),
    }
}

/// The active conditions in the prefetch (any key whose resources are Conditions).
fn conditions(prefetch: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for v in prefetch.as_object().into_iter().flat_map(|o| o.values()) {
        for r in resources(v) {
            let active = r["clinicalStatus"]["coding"].as_array().is_none_or(|cs| {
                cs.iter().any(|c| {
                    c["code"] == "active" || c["code"] == "recurrence" || c["code"] == "relapse"
                })
            });
            if r["resourceType"] == "Condition" && active {
                if let Some(t) = concept_text(&r["code"]) {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
    }
    out
}

/// Findings worth matching guidance on, as (name, name with value): ("eGFR", "eGFR 38
/// mL/min/{1.73_m2}").
fn findings(prefetch: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for v in prefetch.as_object().into_iter().flat_map(|o| o.values()) {
        for r in resources(v) {
            if r["resourceType"] != "Observation" {
                continue;
            }
            let (Some(name), Some(value)) = (
                concept_text(&r["code"]),
                r["valueQuantity"]["value"].as_f64(),
            ) else {
                continue;
            };
            let name = if name.to_lowercase().contains("glomerular") {
                "eGFR".to_string()
            } else {
                name
            };
            let unit = r["valueQuantity"]["unit"].as_str().unwrap_or("");
            let shown = format!("{name} {value} {unit}").trim().to_string();
            out.push((name, shown));
        }
    }
    out
}

/// The drugs being ordered: the selected MedicationRequests of `draftOrders` (all of them when
/// nothing is selected), each by its ingredient name ("metformin" from "Metformin
/// hydrochloride 500 MG Oral Tablet").
fn drugs(context: &Value) -> Vec<String> {
    let selections: Vec<&str> = context["selections"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for r in resources(&context["draftOrders"]) {
        if r["resourceType"] != "MedicationRequest" {
            continue;
        }
        let id = format!("MedicationRequest/{}", r["id"].as_str().unwrap_or(""));
        if !selections.is_empty() && !selections.contains(&id.as_str()) {
            continue;
        }
        if let Some(name) =
            concept_text(&r["medicationCodeableConcept"]).map(|t| cds::ingredient(&t))
        {
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Recommendations on `subject` for this patient, at most [`MAX_CARDS`], best first.
async fn recommendations(
    state: &AppState,
    caller: &Caller,
    query: &str,
    subject: Subject<'_>,
    patient: PatientContext<'_>,
) -> Result<Vec<Chunk>, ApiError> {
    let n = narrowing(vec!["medicine".into()], Default::default(), None);
    let hits = state
        .engine
        .search(caller, query, &n, 20, RetrievalMode::Hybrid)
        .await?
        .hits;
    Ok(cds::rank(
        hits.into_iter().map(|h| h.chunk),
        subject,
        patient,
        MAX_CARDS,
    ))
}

/// A card for one recommendation.
fn card(c: &Chunk, about: &str, base: &str) -> Value {
    let meta = |k: &str| c.metadata.get(k).map(String::as_str).unwrap_or("");
    let body = cds::recommendation_text(&c.text);
    let guideline = meta("guideline");
    let version = meta("version");
    let link = format!(
        "{base}/v1/documents/{}?chunk={}&context=700",
        c.doc_id, c.id
    );
    json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "summary": cds::summary(about, &c.text),
        "detail": format!(
            "**Recommendation {}** — {guideline} ({version})\n\n> {body}\n\n**Strength:** {} · **Evidence:** {}\n\n_Section: {}_",
            meta("recommendation"), meta("strength"), meta("evidence"), c.section
        ),
        "indicator": cds::indicator(&c.text).as_str(),
        "source": {
            "label": format!("{guideline} ({version})"),
            "url": link,
            "topic": {"system": "urn:zhiku:recommendation", "code": meta("recommendation"), "display": guideline},
        },
        "links": [{"label": "Open the cited passage", "url": link, "type": "absolute"}],
    })
}
