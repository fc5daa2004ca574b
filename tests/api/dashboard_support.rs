//! Helpers of the dashboard's tests: members invited through the API, and a cookie-carrying
//! HTTP client that signs in the way a browser's form does (pre-session cookie, CSRF field).
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Client, Response};
use serde_json::json;

use crate::helpers::{parts, TestApp};

pub const PASSWORD: &str = "correct horse battery";

/// Adds a member with the organization's key; answers the one-time link.
pub async fn invite(app: &TestApp, email: &str, role: &str) -> String {
    let (status, body) = parts(
        app.post("/api/v1/members", &json!({"email": email, "role": role}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["invite_url"].as_str().unwrap().to_owned()
}

/// Percent-encodes a form field.
pub fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the page's hidden CSRF field.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("the page has a CSRF field") + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// A browser without a browser: keeps the cookies the dashboard sets, follows no redirect.
pub struct WebClient {
    pub base: String,
    client: Client,
    pub cookies: Vec<(String, String)>,
    /// `Set-Cookie` lines of the last answer, as sent.
    pub last_set_cookies: Vec<String>,
}

impl WebClient {
    pub fn new(app: &TestApp) -> WebClient {
        WebClient {
            base: app.address.clone(),
            client: Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
            last_set_cookies: Vec::new(),
        }
    }

    fn keep(&mut self, response: &Response) {
        self.last_set_cookies.clear();
        for value in response.headers().get_all(SET_COOKIE) {
            let line = value.to_str().unwrap().to_owned();
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() && !line.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
            self.last_set_cookies.push(line);
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// GET: status, the Location header, the body.
    pub async fn get(&mut self, path: &str) -> (u16, Option<String>, String) {
        let response = self
            .client
            .get(self.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(response).await
    }

    /// POST of a urlencoded form.
    pub async fn post(&mut self, path: &str, body: String) -> (u16, Option<String>, String) {
        let response = self
            .client
            .post(self.url(path))
            .header(COOKIE, self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.answer(response).await
    }

    async fn answer(&mut self, response: Response) -> (u16, Option<String>, String) {
        self.keep(&response);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, response.text().await.unwrap())
    }

    /// Opens the one-time link and sets the password; answers the POST's status.
    pub async fn accept(&mut self, invite_url: &str, password: &str) -> u16 {
        let (status, _, html) = self.get(invite_url).await;
        assert_eq!(status, 200, "{html}");
        let csrf = csrf_of(&html);
        let (status, _, _) = self
            .post(
                invite_url,
                form(&[
                    ("csrf", &csrf),
                    ("password", password),
                    ("password_confirmation", password),
                ]),
            )
            .await;
        status
    }

    /// Fills the sign-in form; answers the POST's status and body.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> (u16, String) {
        let (status, _, html) = self.get("/app/sign-in").await;
        assert_eq!(status, 200);
        let csrf = csrf_of(&html);
        let (status, _, body) = self
            .post(
                "/app/sign-in",
                form(&[("csrf", &csrf), ("email", email), ("password", password)]),
            )
            .await;
        (status, body)
    }

    /// A member invited, with their password set, signed in.
    pub async fn member(app: &TestApp, email: &str, role: &str) -> WebClient {
        let mut web = WebClient::new(app);
        let link = invite(app, email, role).await;
        assert_eq!(web.accept(&link, PASSWORD).await, 303);
        let (status, body) = web.sign_in(email, PASSWORD).await;
        assert_eq!(status, 303, "{body}");
        web
    }
}
