use chrono::{Duration, Utc};

use super::*;

fn draft() -> GigDraft {
    GigDraft {
        title: "Build a scraper".into(),
        description: "Scrape product prices from three shops every hour and store them in a CSV file.".into(),
        category: "code".into(),
        budget_usdc: 85.5,
        ..GigDraft::default()
    }
}

#[test]
fn a_minimal_posting_gets_the_defaults() {
    let gig = NewGig::validate(draft(), Utc::now()).unwrap();
    assert_eq!(gig.category, Category::Code);
    assert_eq!(gig.budget, Micros::from_micros(85_500_000));
    assert_eq!(gig.budget_type, BudgetType::Fixed);
    assert_eq!((gig.max_proposals, gig.max_revisions), (50, 2));
    assert!(gig.skills_required.is_empty() && gig.deadline.is_none() && gig.deliverables.is_none());
}

#[test]
fn every_bad_field_is_reported() {
    let now = Utc::now();
    let bad = GigDraft {
        title: "abc".into(),
        description: "too short".into(),
        category: "cooking".into(),
        skills_required: Some(vec!["x".repeat(31)]),
        budget_usdc: 0.0,
        budget_type: Some("weekly".into()),
        deadline: Some((now - Duration::hours(1)).to_rfc3339()),
        deliverables: Some("d".repeat(5001)),
        max_proposals: Some(0),
        max_revisions: Some(11),
    };
    let errors = NewGig::validate(bad, now).unwrap_err();
    let fields: Vec<&str> = errors.fields().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "title",
            "description",
            "category",
            "skills_required",
            "budget_usdc",
            "budget_type",
            "deadline",
            "deliverables",
            "max_proposals",
            "max_revisions"
        ]
    );
    let garbled = GigDraft { deadline: Some("tomorrow".into()), budget_usdc: -3.0, ..draft() };
    let errors = NewGig::validate(garbled, now).unwrap_err();
    assert_eq!(errors.fields().len(), 2);
    let many = GigDraft { skills_required: Some(vec!["a".into(); 21]), budget_usdc: 0.1234567, ..draft() };
    assert_eq!(NewGig::validate(many, now).unwrap_err().fields().len(), 2);
}

#[test]
fn a_posted_gig_is_open_approved_and_listed() {
    let new = NewGig::validate(
        GigDraft { skills_required: Some(vec!["Rust".into(), " SQL ".into()]), ..draft() },
        Utc::now(),
    )
    .unwrap();
    assert_eq!(new.skills_required, ["Rust", "SQL"]);
    let gig = Gig::post(new, UserId::new(), None, Utc::now());
    assert!(gig.is_listed());
    assert_eq!(gig.moderation_status, ModerationStatus::Approved);
    assert!(gig.matches_agent(&[], &["rust".into()]));
    assert!(gig.matches_agent(&["code".into()], &[]));
    assert!(!gig.matches_agent(&["design".into()], &["python".into()]));
    let cancelled = Gig { status: GigStatus::Cancelled, ..gig };
    assert!(!cancelled.is_listed());
}

#[test]
fn search_defaults_and_checks() {
    let query = SearchQuery::validate(SearchDraft::default()).unwrap();
    assert_eq!((query.sort, query.limit, query.offset), (GigSort::Newest, 20, 0));
    let query = SearchQuery::validate(SearchDraft {
        q: Some("Rust, scraper!  rust".into()),
        skills: Some("TypeScript, rust,,".into()),
        category: Some("data".into()),
        min_budget: Some(10.0),
        max_budget: Some(10.0),
        sort: Some("deadline".into()),
        limit: Some(100),
        offset: Some(10_000),
    })
    .unwrap();
    assert_eq!(query.words, ["rust", "scraper"]);
    assert_eq!(query.skills, ["typescript", "rust"]);
    assert_eq!(query.category, Some(Category::Data));
    assert_eq!(query.sort, GigSort::Deadline);
    let errors = SearchQuery::validate(SearchDraft {
        q: Some("q".repeat(201)),
        category: Some("x".into()),
        min_budget: Some(20.0),
        max_budget: Some(10.0),
        sort: Some("oldest".into()),
        limit: Some(101),
        offset: Some(10_001),
        ..SearchDraft::default()
    })
    .unwrap_err();
    let fields: Vec<&str> = errors.fields().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["q", "category", "min_budget", "sort", "limit", "offset"]);
}

#[test]
fn query_words_keep_letters_and_digits_only() {
    assert_eq!(query_words(r#"NEAR "a" OR b* -c ü2"#), ["near", "a", "or", "b", "c", "ü2"]);
    assert!(query_words("  ,;  ").is_empty());
}
