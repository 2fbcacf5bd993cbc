//! `login`, `logout`, `whoami`.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Session;
use crate::client::ApiClient;
use crate::config::{Profile, Target};
use crate::error::CliError;
use crate::output;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server [default: the profile's, else TALON_URL, else http://127.0.0.1:3000].
    #[arg(long)]
    pub url: Option<String>,
    /// The account's email [default: asked].
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from standard input (one line) instead of asking for it.
    #[arg(long, conflicts_with = "api_key")]
    pub password_stdin: bool,
    /// Sign in with an API key instead of a password (checked against the server before it is kept).
    #[arg(long)]
    pub api_key: Option<String>,
}

#[derive(Deserialize)]
struct LoginAnswer {
    token: String,
}

#[derive(Deserialize)]
struct Me {
    email: String,
}

pub async fn login(session: &Session, args: LoginArgs) -> Result<(), CliError> {
    let current = session.settings.target()?;
    let url = args.url.map(|u| u.trim_end_matches('/').to_owned()).unwrap_or(current.url);
    let (credential, email) = match args.api_key {
        Some(key) => (key, None),
        None => {
            let email = match args.email {
                Some(email) => email,
                None => prompt_line("Email: ")?,
            };
            let password = if args.password_stdin { read_stdin_line()? } else { prompt_password()? };
            let anonymous =
                ApiClient::new(&Target { profile: current.profile.clone(), url: url.clone(), credential: None })?;
            let request =
                anonymous.request(Method::POST, "/api/auth/login").json(&json!({"email": email, "password": password}));
            let answer: LoginAnswer = anonymous.json(request).await?;
            (answer.token, Some(email))
        }
    };
    // The credential is kept only once the server has taken it.
    let client = ApiClient::new(&Target {
        profile: current.profile.clone(),
        url: url.clone(),
        credential: Some(credential.clone()),
    })?;
    let me: Me = client.get("/api/auth/me").await?;
    let mut config = session.settings.load()?;
    config.profiles.insert(
        session.settings.profile.clone(),
        Profile { url: url.clone(), email: Some(email.unwrap_or(me.email.clone())), credential: Some(credential) },
    );
    session.settings.save(&config)?;
    anstream::println!(
        "Signed in to {url} as {} (profile {}, saved in {})",
        output::paint(output::HEADER, &me.email),
        session.settings.profile,
        session.settings.path.display()
    );
    Ok(())
}

pub async fn logout(session: &Session) -> Result<(), CliError> {
    let mut config = session.settings.load()?;
    let Some(profile) = config.profiles.get_mut(&session.settings.profile) else {
        anstream::println!("Not signed in (profile {})", session.settings.profile);
        return Ok(());
    };
    if let Some(credential) = profile.credential.take() {
        // A session token is revoked on the server; an API key is left as it is (`talon keys revoke`).
        if !credential.starts_with("tln_") {
            let client = ApiClient::new(&Target {
                profile: String::new(),
                url: profile.url.clone(),
                credential: Some(credential),
            })?;
            match client.send(client.request(Method::POST, "/api/auth/logout")).await {
                Ok(_) => {}
                // Expired or revoked already: forgetting it is all that is left.
                Err(e) if e.is_status(401) => {}
                Err(e) => return Err(e),
            }
        }
    }
    profile.email = None;
    session.settings.save(&config)?;
    anstream::println!("Signed out (profile {})", session.settings.profile);
    Ok(())
}

pub async fn whoami(session: &Session) -> Result<(), CliError> {
    let me: Value = session.client.get("/api/auth/me").await?;
    if session.json {
        output::print_json(&me);
        return Ok(());
    }
    anstream::println!(
        "{} on {} (profile {}, plan {})",
        output::cell(&me["email"]),
        session.client.base_url(),
        session.settings.profile,
        output::cell(&me["plan"])
    );
    Ok(())
}

fn prompt_line(label: &str) -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!("{} is needed: give it as an option", label.trim_end_matches(": "))));
    }
    eprint!("{label}");
    std::io::stderr().flush().ok();
    read_stdin_line()
}

fn prompt_password() -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage("no terminal to ask the password on: use --password-stdin or --api-key".into()));
    }
    rpassword::prompt_password("Password: ").map_err(CliError::io("reading the password"))
}

fn read_stdin_line() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(CliError::io("reading standard input"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
