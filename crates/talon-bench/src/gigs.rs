//! Seeds a database with many gigs for the search benchmark (bench/marketplace_search.sh): multi-row
//! inserts in one transaction, straight to the tables the store reads (gigs, and gig_skills; the FTS5
//! triggers or the generated tsvector column index the text), then `ANALYZE` (`VACUUM ANALYZE` on
//! PostgreSQL). The data is made up
//! from a fixed seed: titles and descriptions from a vocabulary of 400 words (mildly skewed), 1 to 4 of 40 skills, a
//! budget of 5 to 5,000 USDC, a deadline on half of them, 95 % listed.

use std::time::Instant;

use anyhow::{Context, Result};
use sqlx::{Connection, PgConnection, SqliteConnection};
use talon_domain::UserId;
use uuid::{Timestamp, Uuid};

const CATEGORIES: [&str; 7] = ["code", "content", "data", "design", "research", "translation", "other"];
const SKILLS: [&str; 40] = [
    "rust",
    "python",
    "typescript",
    "go",
    "java",
    "sql",
    "react",
    "vue",
    "docker",
    "kubernetes",
    "aws",
    "gcp",
    "figma",
    "photoshop",
    "writing",
    "editing",
    "seo",
    "copywriting",
    "research",
    "excel",
    "pandas",
    "spark",
    "ml",
    "nlp",
    "vision",
    "scraping",
    "testing",
    "security",
    "linux",
    "bash",
    "graphql",
    "rest",
    "postgres",
    "redis",
    "kafka",
    "spanish",
    "french",
    "german",
    "japanese",
    "chinese",
];
const ROWS_PER_INSERT: usize = 500;

/// A small deterministic generator (xorshift64*), so every run seeds the same gigs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pronounceable made-up words (`bakitu`, `rosemal`, …), plus the skills and a few real ones, so
/// queries in the benchmark can name words with known frequencies.
fn vocabulary() -> Vec<String> {
    let (onsets, vowels) = (["b", "d", "k", "l", "m", "n", "p", "r", "s", "t"], ["a", "e", "i", "o"]);
    let mut words: Vec<String> = ["parser", "pipeline", "dashboard", "migration", "landing", "api", "report", "audit"]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
    words.extend(SKILLS.iter().map(|s| (*s).to_owned()));
    let mut rng = Rng(7);
    while words.len() < 400 {
        let syllables = 2 + rng.below(2);
        let word: String =
            (0..syllables).map(|_| format!("{}{}", onsets[rng.below(10)], vowels[rng.below(4)])).collect();
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

struct Row {
    id: Uuid,
    title: String,
    description: String,
    category: &'static str,
    skills: Vec<&'static str>,
    budget_micros: i64,
    status: &'static str,
    deadline: Option<chrono::DateTime<chrono::Utc>>,
    created_at: chrono::DateTime<chrono::Utc>,
}

fn rows(count: usize) -> Vec<Row> {
    let words = vocabulary();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let now = chrono::Utc::now();
    let start = now - chrono::Duration::days(100);
    let step_ms = (100 * 86_400_000 / count.max(1)) as i64;
    (0..count)
        .map(|i| {
            let created_at = start + chrono::Duration::milliseconds(step_ms * i as i64);
            let ms = created_at.timestamp_millis() as u64;
            let id = Uuid::new_v7(Timestamp::from_unix_time(ms / 1000, ((ms % 1000) * 1_000_000) as u32, 0, 12));
            // Mildly skewed (the lower of two picks): the first words are in about 10 % of the gigs,
            // the last in well under 1 %.
            let word = |rng: &mut Rng| {
                let r = rng.below(words.len()).min(rng.below(words.len()));
                words[r].clone()
            };
            let title: Vec<String> = (0..4 + rng.below(4)).map(|_| word(&mut rng)).collect();
            let description: Vec<String> = (0..20 + rng.below(30)).map(|_| word(&mut rng)).collect();
            let mut skills: Vec<&'static str> =
                (0..1 + rng.below(4)).map(|_| SKILLS[rng.below(SKILLS.len())]).collect();
            skills.sort_unstable();
            skills.dedup();
            Row {
                id,
                title: title.join(" "),
                description: description.join(" "),
                category: CATEGORIES[rng.below(CATEGORIES.len())],
                skills,
                budget_micros: (5 + rng.below(4996)) as i64 * 1_000_000,
                status: if rng.below(20) == 0 { "cancelled" } else { "open" },
                deadline: (rng.below(2) == 0).then(|| now + chrono::Duration::hours(1 + rng.below(60 * 24) as i64)),
                created_at,
            }
        })
        .collect()
}

fn insert_gigs_sql(n: usize) -> String {
    let values: Vec<String> = (0..n)
        .map(|r| {
            let p: Vec<String> = (1..=13).map(|c| format!("${}", r * 13 + c)).collect();
            format!(
                "({}, 'fixed', {}, 'approved', {}, 50, 2, 0, {}, {})",
                p[..7].join(", "),
                p[7],
                p[8..11].join(", "),
                p[11],
                p[12]
            )
        })
        .collect();
    format!(
        "INSERT INTO gigs (id, client_id, created_by_agent_id, title, description, category, skills_required, \
         budget_type, budget_micros, moderation_status, status, deadline, deliverables, max_proposals, max_revisions, \
         proposal_count, created_at, updated_at) VALUES {}",
        values.join(", ")
    )
}

/// Binds one chunk of rows in the order `insert_gigs_sql` numbers them.
macro_rules! bind_rows {
    ($sql:expr, $chunk:expr, $client:expr) => {{
        let mut q = sqlx::query($sql);
        for row in $chunk {
            q = q
                .bind(row.id)
                .bind($client)
                .bind(None::<Uuid>)
                .bind(row.title.as_str())
                .bind(row.description.as_str())
                .bind(row.category)
                .bind(serde_json::to_string(&row.skills).unwrap_or_default())
                .bind(row.budget_micros)
                .bind(row.status)
                .bind(row.deadline)
                .bind(None::<String>)
                .bind(row.created_at)
                .bind(row.created_at);
        }
        q
    }};
}

pub async fn seed(database_url: &str, client: &str, count: usize) -> Result<()> {
    let client = *UserId::parse(client).context("--client must be a user id")?.as_uuid();
    let started = Instant::now();
    let rows = rows(count);
    let skills: Vec<(&str, Uuid)> = rows.iter().flat_map(|r| r.skills.iter().map(move |s| (*s, r.id))).collect();
    macro_rules! load {
        ($conn:expr, $after:expr) => {{
            let mut tx = $conn.begin().await?;
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let sql = insert_gigs_sql(chunk.len());
                bind_rows!(&sql, chunk, client).execute(&mut *tx).await?;
            }
            for chunk in skills.chunks(ROWS_PER_INSERT * 2) {
                let values: Vec<String> =
                    (0..chunk.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
                let sql = format!("INSERT INTO gig_skills (skill, gig_id) VALUES {}", values.join(", "));
                let mut q = sqlx::query(&sql);
                for (skill, id) in chunk {
                    q = q.bind(*skill).bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            for statement in $after {
                sqlx::query(statement).execute(&mut $conn).await?;
            }
        }};
    }
    if database_url.starts_with("sqlite:") {
        let mut conn = SqliteConnection::connect(database_url).await?;
        load!(conn, ["ANALYZE"]);
    } else {
        // What autovacuum would do in time: index-only scans need the visibility map.
        let mut conn = PgConnection::connect(database_url).await?;
        load!(conn, ["VACUUM ANALYZE gigs", "VACUUM ANALYZE gig_skills"]);
    }
    println!("seeded {count} gigs in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}
