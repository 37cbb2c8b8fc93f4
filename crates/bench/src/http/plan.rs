//! Plans: the requests `wrk` replays for each scenario, written as files its script reads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// Which of the three signed-in roles sends a request (its line in the plan file).
#[derive(Debug, Clone, Copy)]
pub enum Token {
    Admin = 1,
    /// Sees every customer, with personal data masked (answers are re-serialized).
    Marketing = 2,
    /// Sees only its own customers.
    Rep = 3,
}

/// What the load reads and writes, taken from the seeded database.
pub struct Inputs {
    /// Live customers in random order: the first `gets` are read, the rest are split into
    /// disjoint slices that each write scenario patches (each record once a round).
    pub ids: Vec<Uuid>,
    pub gets: usize,
    /// `q` texts: Chinese fragments, English prefixes, phones typed nationally, emails,
    /// pinyin, phone tails, insides of English words.
    pub searches: [Vec<String>; 7],
    /// The API cursor of the deep page of the `lifecycle_stage=customer` list.
    pub deep_cursor: Option<String>,
    /// How many connection counts run (each gets its own write slices).
    pub rounds: usize,
    /// Names for the customers the load creates, drawn as the seeded ones'.
    pub names: Vec<String>,
}

/// The records and phone ranges of the write scenarios of one connection count.
pub struct WriteSlices<'a> {
    pub patch: &'a [Uuid],
    pub mixed: &'a [Uuid],
    /// UK mobile numbers `+447<digit>…` that no other run and no seeded customer uses.
    pub phone_digit: char,
    pub mixed_phone_digit: char,
}

/// Digits of UK mobile ranges, two per connection count.
const PHONE_DIGITS: [char; 4] = ['9', '8', '7', '5'];
/// The list of the issue's table: a filter and a page of 20.
const LIST: &str = "/v1/customers?lifecycle_stage=customer&limit=20";

impl Inputs {
    pub fn write_slices(&self, round: usize) -> WriteSlices<'_> {
        let rest = &self.ids[self.gets..];
        let size = (rest.len() / (2 * self.rounds.max(1))).max(1);
        let slice = |i: usize| {
            let start = (i * size).min(rest.len().saturating_sub(1));
            &rest[start..(start + size).min(rest.len())]
        };
        WriteSlices {
            patch: slice(2 * round),
            mixed: slice(2 * round + 1),
            phone_digit: PHONE_DIGITS[(2 * round) % PHONE_DIGITS.len()],
            mixed_phone_digit: PHONE_DIGITS[(2 * round + 1) % PHONE_DIGITS.len()],
        }
    }

    pub fn gets(&self) -> Plan {
        let mut plan = Plan::default();
        for id in &self.ids[..self.gets] {
            plan.get(&format!("/v1/customers/{id}"), Token::Admin);
        }
        plan
    }

    pub fn first_page(&self) -> Plan {
        let mut plan = Plan::default();
        plan.get(LIST, Token::Admin);
        plan
    }

    pub fn deep_page(&self) -> Plan {
        let mut plan = Plan::default();
        match &self.deep_cursor {
            Some(cursor) => plan.get(&format!("{LIST}&cursor={cursor}"), Token::Admin),
            None => plan.get(LIST, Token::Admin),
        }
        plan
    }

    fn search_path(text: &str) -> String {
        let q: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
        format!("/v1/customers?q={q}&limit=20")
    }

    /// Searches of one kind (an index into `searches`).
    pub fn search(&self, kind: usize) -> Plan {
        let mut plan = Plan::default();
        for text in &self.searches[kind] {
            plan.get(&Self::search_path(text), Token::Admin);
        }
        plan
    }

    /// Creates with one contact, each with its own email and phone, one per name, cycling.
    pub fn creates(&self, phone_digit: char) -> Plan {
        let mut plan = Plan::default();
        for name in &self.names {
            plan.create(phone_digit, name);
        }
        plan
    }

    /// Eight reads and two writes a step, by three roles; one step per record to patch.
    pub fn mixed(&self, own: &[Uuid], patch: &[Uuid], phone_digit: char) -> Plan {
        let mut plan = Plan::default();
        let gets = &self.ids[..self.gets];
        for (k, id) in patch.iter().enumerate() {
            let search = &self.searches[k % self.searches.len()];
            plan.get(
                &format!("/v1/customers/{}", gets[k % gets.len()]),
                Token::Admin,
            );
            plan.get(
                &format!("/v1/customers/{}", gets[(k + 7) % gets.len()]),
                Token::Marketing,
            );
            plan.get(&format!("/v1/customers/{}", own[k % own.len()]), Token::Rep);
            plan.get(LIST, Token::Admin);
            plan.get(
                &Self::search_path(&search[k % search.len()]),
                Token::Marketing,
            );
            plan.get("/v1/customers?limit=20", Token::Rep);
            plan.get(
                &Self::search_path(&self.searches[1][k % self.searches[1].len()]),
                Token::Admin,
            );
            plan.get(
                &format!("/v1/customers/{}/contacts", gets[(k + 3) % gets.len()]),
                Token::Marketing,
            );
            plan.create(phone_digit, &self.names[k % self.names.len()]);
            plan.patch(*id);
        }
        plan
    }
}

/// Requests to replay, in order.
#[derive(Default)]
pub struct Plan {
    lines: String,
}

impl Plan {
    pub fn health() -> Plan {
        let mut plan = Plan::default();
        plan.get("/health/live", Token::Admin);
        plan
    }

    /// PATCHes with `If-Match`, each record once a round.
    pub fn patches(ids: &[Uuid]) -> Plan {
        let mut plan = Plan::default();
        for id in ids {
            plan.patch(*id);
        }
        plan
    }

    fn get(&mut self, path: &str, token: Token) {
        self.push("GET", path, token, false, None);
    }

    /// A customer named `name` with one contact whose email and phone are this run's own.
    fn create(&mut self, phone_digit: char, name: &str) {
        let name = serde_json::Value::from(name).to_string();
        let body = format!(
            r#"{{"name":{name},"kind":"enterprise","industry":"information_technology","country":"CN","contacts":[{{"first_name":"Wei","last_name":"Load","emails":[{{"address":"load{phone_digit}.{{n}}@load.rapport.example","label":"work"}}],"phones":[{{"number":"+447{phone_digit}{{n}}","label":"mobile"}}]}}]}}"#
        );
        self.push("POST", "/v1/customers", Token::Admin, false, Some(&body));
    }

    fn patch(&mut self, id: Uuid) {
        self.push(
            "PATCH",
            &format!("/v1/customers/{id}"),
            Token::Admin,
            true,
            Some(r#"{"description":"Checked under load, step {n}"}"#),
        );
    }

    fn push(&mut self, method: &str, path: &str, token: Token, if_match: bool, body: Option<&str>) {
        let if_match = if if_match { "+" } else { "-" };
        let _ = writeln!(
            self.lines,
            "R\t{method}\t{path}\t{}\t{if_match}\t{}",
            token as u8,
            body.unwrap_or("-")
        );
    }

    /// Writes the plan with its tokens to `dir`; its path.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(
        &self,
        dir: &Path,
        name: &str,
        connections: u32,
        tokens: &[String; 3],
    ) -> anyhow::Result<PathBuf> {
        let slug: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let path = dir.join(format!("{slug}-{connections}.plan"));
        let mut text = String::new();
        for token in tokens {
            let _ = writeln!(text, "T\t{token}");
        }
        text.push_str(&self.lines);
        std::fs::write(&path, text)?;
        Ok(path)
    }
}
